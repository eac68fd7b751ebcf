package auth

import (
	"strings"
	"testing"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := CheckPassword(h, "correct horse battery"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := CheckPassword(h, "correct horse batterz"); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}

func TestCheckPasswordRefusesMalformedOrCostlyHashes(t *testing.T) {
	good, _ := HashPassword("x")
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"empty":       "",
		"other algo":  strings.Replace(good, "argon2id", "argon2i", 1),
		"huge memory": strings.Join(append(parts[:3:3], "m=4194304,t=1,p=1", parts[4], parts[5]), "$"),
		"many passes": strings.Join(append(parts[:3:3], "m=47104,t=1000,p=1", parts[4], parts[5]), "$"),
		"bad salt":    strings.Join(append(parts[:4:4], "!!!", parts[5]), "$"),
	} {
		if ok, err := CheckPassword(h, "x"); ok || err == nil {
			t.Errorf("%s: accepted (%v, %v)", name, ok, err)
		}
	}
}
