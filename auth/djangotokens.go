package auth

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DjangoTokens verifies the tokens the tutorial's Django app issued
// (create_access_token and create_refresh_token: RS256, "sub" the Django
// user id, its "iss" and "aud", "exp"; refresh tokens carry "type":
// "refresh"), so that they keep working at Inkwell until they expire
// (docs/importing-from-django.md).
type DjangoTokens struct {
	key              *rsa.PublicKey
	issuer, audience string
	now              func() time.Time
}

// DjangoToken is what a verified Django token says.
type DjangoToken struct {
	Subject string // the Django user id
	// Hash names the token (a SHA-256 of it, hex): it is exchanged for an
	// Inkwell session once.
	Hash      string
	ExpiresAt time.Time
}

// LoadDjangoTokens reads the Django app's PEM RSA public key from path;
// tokens must carry issuer and audience.
func LoadDjangoTokens(path, issuer, audience string, now func() time.Time) (*DjangoTokens, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("django public key: %w", err)
	}
	key, err := parsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("django public key %s: %w", path, err)
	}
	if issuer == "" || audience == "" {
		return nil, errors.New("django tokens: the issuer and the audience are required")
	}
	if now == nil {
		now = time.Now
	}
	return &DjangoTokens{key: key, issuer: issuer, audience: audience, now: now}, nil
}

// djangoClaims are the claims of the tutorial's tokens.
type djangoClaims struct {
	jwt.RegisteredClaims
	Type string `json:"type"`
}

// Verify checks token as the Django app checked its own: RS256 under its
// key, its issuer and audience, a subject, not expired (30 seconds of
// leeway, as Inkwell's own tokens have). refresh says which kind is
// wanted: a refresh token ("type": "refresh") or an access token (no type).
func (d *DjangoTokens) Verify(token string, refresh bool) (DjangoToken, error) {
	if len(token) > MaxTokenLen {
		return DjangoToken{}, &TokenError{Reason: "too long"}
	}
	var c djangoClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return d.key, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(d.issuer), jwt.WithAudience(d.audience),
		jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second), jwt.WithTimeFunc(d.now))
	if err != nil {
		return DjangoToken{}, &TokenError{Reason: "django token: " + err.Error()}
	}
	if c.Subject == "" {
		return DjangoToken{}, &TokenError{Reason: "django token without a subject"}
	}
	if (c.Type == "refresh") != refresh {
		return DjangoToken{}, &TokenError{Reason: "django token of the wrong type"}
	}
	sum := sha256.Sum256([]byte(token))
	return DjangoToken{Subject: c.Subject, Hash: hex.EncodeToString(sum[:]), ExpiresAt: c.ExpiresAt.Time}, nil
}
