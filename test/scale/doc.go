// Package scale holds the tests that run several real `elevate serve` processes at once
// through internal/testkit: replicas racing on one PostgreSQL, a process killed mid-burst, a
// PostgreSQL restart under load and many parallel sessions on SQLite. It has only tests.
package scale
