package auth_test

import (
	"testing"
	"time"

	"inkwell/auth"
)

// BenchmarkParseAccess parses an access token as every authenticated
// request does: the same token again (verified once, then remembered until
// it expires), and a token a verifier has not seen (an RS256 verification):
//
//	go test ./auth -run '^$' -bench BenchmarkParseAccess
func BenchmarkParseAccess(b *testing.B) {
	k, _, err := auth.LoadOrGenerateKeys(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	tk := auth.NewTokens(k, auth.DefaultTokenConfig(), time.Now)
	access, _ := tk.IssueAccess("u1", "s1", auth.Profile{Username: "u"})
	b.Run("same token", func(b *testing.B) {
		for range b.N {
			if _, err := tk.Parse(access.Token, auth.TypeAccess); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new verifier each time", func(b *testing.B) {
		for range b.N {
			t2 := auth.NewTokens(k, auth.DefaultTokenConfig(), time.Now)
			if _, err := t2.Parse(access.Token, auth.TypeAccess); err != nil {
				b.Fatal(err)
			}
		}
	})
}
