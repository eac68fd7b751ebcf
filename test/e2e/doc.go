// Package e2e holds the browser tests: the built binary (internal/testkit builds it from the
// module root), a real SMTP server on loopback and headless Chromium, from the first sign-in to
// an approval from the link in the mail. Screenshots land in test-artifacts/ at the module
// root. It has only tests.
package e2e
