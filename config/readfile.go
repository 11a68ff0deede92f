package config

import (
	"fmt"
	"io"
	"os"
)

// maxSettingsFile bounds the settings file: a settings file is a few
// kilobytes; `--config /dev/zero` must not exhaust memory.
const maxSettingsFile = 1 << 20

// readSettings reads a settings file of at most maxSettingsFile bytes. Only
// a regular file is read: a FIFO or a device given as --config would block
// or never end. The file is opened without blocking and checked on the
// open descriptor, so swapping it for a FIFO meanwhile does not hang either.
func readSettings(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNonBlock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%v)", path, fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSettingsFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSettingsFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxSettingsFile)
	}
	return data, nil
}
