// Package openapi holds the OpenAPI 3.1 document of Elevate's JSON API, kept by hand beside
// the handlers and embedded in the binary. Tests in package web validate real requests and
// answers of every /api/v1 route against it, so it cannot drift from the code.
package openapi

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
)

// JSON is the document, served as is at GET /api/v1/openapi.json.
//
//go:embed openapi.json
var JSON []byte

// ETag is the document's strong entity tag: it changes exactly when the document does.
var ETag = func() string {
	sum := sha256.Sum256(JSON)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()
