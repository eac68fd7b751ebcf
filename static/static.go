// Package static embeds Elevate's built CSS, vendored JS and images into the binary and names
// each file with a content fingerprint so browsers may cache it for a long time.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
)

//go:embed css/app.css js img
var files embed.FS

// FS is the embedded file tree, served under /static/.
var FS fs.FS = files

var fingerprints = func() map[string]string {
	m := map[string]string{}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[p] = hex.EncodeToString(sum[:6])
		return nil
	})
	return m
}()

// Path returns the URL of an embedded file with its fingerprint, e.g. /static/css/app.css?v=1a2b3c.
func Path(name string) string {
	return "/static/" + name + "?v=" + fingerprints[name]
}

// Fingerprint returns the fingerprint of an embedded file, or "" if there is none.
func Fingerprint(name string) string { return fingerprints[name] }
