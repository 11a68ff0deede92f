package keyring

import "sync"

// credchain patch (see PATCHES.md): upstream v1.2.2 calls dbus.SessionBus()
// in the init of secretservice.go and kwallet.go, so every process that
// links this package connects to the D-Bus session bus at start-up (and,
// with dbus-launch installed and no bus, starts a dbus-daemon that outlives
// it), whether or not it ever opens a keyring. Here those inits only record
// the registration functions; the first AvailableBackends or Open call runs
// them, once, with the same outcome the init would have had.

var (
	dbusBackends     []func()
	dbusBackendsOnce sync.Once
)

func registerDBusBackends() {
	dbusBackendsOnce.Do(func() {
		for _, register := range dbusBackends {
			register()
		}
	})
}
