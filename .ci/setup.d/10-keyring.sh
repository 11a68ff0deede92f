# shellcheck shell=bash
# Keyring backends for the cache tests (sourced by .ci/run as root, under
# set -euo pipefail): gnome-keyring + secret-tool (Secret Service), pass and
# gnupg (pass backend), keyutils (keyctl), dbus (dbus-daemon for the private
# bus the Secret Service test starts). Idempotent. It starts no daemon: each
# test starts its own bus, gnome-keyring-daemon and gpg-agent and kills them.
#
# dbus-x11 is removed if present: its dbus-launch makes a process that opens
# a D-Bus keyring without a session bus autolaunch a dbus-daemon that
# outlives it (upstream 99designs/keyring even does so in its init;
# credchain's patched copy only when a keyring is opened).

keyring_setup() {
	local pkgs=(gnome-keyring libsecret-tools pass gnupg keyutils dbus)
	local missing=() p
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		# One apt-get update per machine, shared with other setup scripts that
		# use the same marker.
		local marker=/var/tmp/credchain-ci-apt-updated
		if [ ! -e "$marker" ]; then
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
			touch "$marker"
		fi
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
			--no-install-recommends "${missing[@]}"
	fi
	if dpkg-query -W -f='${Status}' dbus-x11 2>/dev/null | grep -q 'install ok installed'; then
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 remove -y -qq dbus-x11
	fi
	for p in gnome-keyring-daemon secret-tool dbus-daemon pass gpg gpgconf keyctl; do
		command -v "$p" >/dev/null || { echo "10-keyring.sh: $p is still missing after the install" >&2; return 1; }
	done
	if command -v dbus-launch >/dev/null; then
		echo "10-keyring.sh: dbus-launch is on PATH ($(command -v dbus-launch)); it would autolaunch session buses" >&2
		return 1
	fi
	# keyctl must be allowed by the kernel (a container's seccomp may refuse it).
	keyctl show @s >/dev/null || { echo "10-keyring.sh: the kernel keyring is not usable here" >&2; return 1; }
}
keyring_setup
unset -f keyring_setup

# Everything but the Secret Service test runs without a session bus (that
# test starts a private one and re-executes the test binary on it).
export DBUS_SESSION_BUS_ADDRESS=disabled:
