package auth

import "github.com/elevate-pam/elevate/internal/store"

// APIToken is a person's API token as auth hands it out (never its secret), so callers name it
// without importing the store.
type APIToken = store.APIToken

// CheckToken is a target system's check token as auth hands it out (never its secret).
type CheckToken = store.CheckToken
