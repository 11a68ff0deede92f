package cache

import (
	"errors"

	"github.com/gsterjov/go-libsecret"
)

// checkLoginCollection makes sure the Secret Service has an unlocked login
// collection: writing to a missing or locked one would wait for a prompt.
func checkLoginCollection() error {
	svc, err := libsecret.NewService()
	if err != nil {
		return err
	}
	cols, err := svc.Collections()
	if err != nil {
		return err
	}
	want := libsecret.DBusPath + "/collection/" + loginCollection
	for _, c := range cols {
		if string(c.Path()) != want {
			continue
		}
		locked, err := c.Locked()
		if err != nil {
			return err
		}
		if locked {
			return errors.New(`the "login" keyring is locked (unlock it, e.g. with seahorse or gnome-keyring-daemon --unlock)`)
		}
		return nil
	}
	return errors.New(`the Secret Service has no "login" collection (create the login keyring, e.g. with seahorse)`)
}
