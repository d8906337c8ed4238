package auth_test

import (
	"path/filepath"
	"testing"
	"time"

	"inkwell/auth"
)

// FuzzParseToken feeds the token parser arbitrary text where a bearer token
// goes. Nothing panics, and a token is accepted only if this server's key
// signed it: the claims of an accepted token are those of a token issued
// here, of the wanted type.
func FuzzParseToken(f *testing.F) {
	keys, _, err := auth.LoadOrGenerateKeys(filepath.Join(f.TempDir(), "keys"))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	tk := auth.NewTokens(keys, auth.DefaultTokenConfig(), func() time.Time { return now })
	access, err := tk.IssueAccess("u1", "s1", auth.Profile{Username: "john"})
	if err != nil {
		f.Fatal(err)
	}
	refresh, err := tk.IssueRefresh("u1", "s1", "r1")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(access.Token, false)
	f.Add(refresh.Token, true)
	f.Add(access.Token+"x", false)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSJ9.", false)
	f.Add("a.b.c", true)
	f.Add("", false)
	f.Fuzz(func(t *testing.T, token string, wantRefresh bool) {
		want := auth.TypeAccess
		if wantRefresh {
			want = auth.TypeRefresh
		}
		c, err := tk.Parse(token, want)
		if err != nil {
			if c != nil {
				t.Fatalf("an error with claims: %v", err)
			}
			return
		}
		if c.Type != want || c.Subject != "u1" || c.SessionID != "s1" {
			t.Fatalf("accepted %q as %s with claims %+v", token, want, c)
		}
		if want == auth.TypeRefresh && c.ID != "r1" {
			t.Fatalf("accepted a refresh token with id %q", c.ID)
		}
	})
}
