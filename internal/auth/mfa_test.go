package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
)

func TestTOTPSecretSealedPerUserAndKey(t *testing.T) {
	m := NewMFA(nil, nil, []byte("process secret, at least 32 bytes long"), "Elevate", time.Now)
	other := NewMFA(nil, nil, []byte("another process secret, 32 bytes long"), "Elevate", time.Now)
	const secret = "JBSWY3DPEHPK3PXP"
	sealed := m.seal("u1", secret)
	if strings.Contains(sealed, secret) {
		t.Fatal("the sealed secret contains the secret")
	}
	if got, err := m.open("u1", sealed); err != nil || got != secret {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := m.open("u2", sealed); err == nil {
		t.Fatal("a secret sealed for one user opened for another")
	}
	if _, err := other.open("u1", sealed); err == nil {
		t.Fatal("a secret opened under another process secret")
	}
	if m.seal("u1", secret) == sealed {
		t.Fatal("sealing twice gave the same ciphertext (nonce reused)")
	}
}

func TestKeyURLIsWhatAppsRead(t *testing.T) {
	m := NewMFA(nil, nil, []byte("process secret, at least 32 bytes long"), "Elevate Prod", time.Now)
	k, err := otp.NewKeyFromURL(m.keyURL("ana+ops@example.com", "JBSWY3DPEHPK3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Secret() != "JBSWY3DPEHPK3PXP" || k.Issuer() != "Elevate Prod" || k.AccountName() != "ana+ops@example.com" ||
		k.Period() != 30 || k.Digits() != otp.DigitsSix || k.Algorithm() != otp.AlgorithmSHA1 {
		t.Fatalf("key %+v from %s", k, k.URL())
	}
}
