package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token types, carried in the "type" claim (and the header's "typ") so that a
// refresh token is never accepted where an access token is expected, nor the
// reverse.
const (
	TypeAccess  = "access"
	TypeRefresh = "refresh"
)

// header typ values: RFC 9068 for access tokens, a private one for refresh tokens.
const (
	typAccess  = "at+jwt"
	typRefresh = "refresh+jwt"
)

// MaxTokenLen bounds the size of a token Inkwell will try to parse.
const MaxTokenLen = 8192

// TokenConfig configures token issuing and checking.
type TokenConfig struct {
	Issuer     string
	Audience   string
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	// Leeway tolerates clock skew between the issuer and this server.
	Leeway time.Duration
}

// DefaultTokenConfig returns the tutorial's settings: 15-minute access and
// 7-day refresh tokens.
func DefaultTokenConfig() TokenConfig {
	return TokenConfig{
		Issuer:     "inkwell",
		Audience:   "inkwell-api",
		AccessTTL:  15 * time.Minute,
		RefreshTTL: 7 * 24 * time.Hour,
		Leeway:     30 * time.Second,
	}
}

// Claims are the claims of Inkwell's tokens.
type Claims struct {
	jwt.RegisteredClaims
	Type string `json:"type"`
	// SessionID names the login session (token family) the token belongs to.
	SessionID string `json:"sid,omitempty"`
	// Informational claims of access tokens. Authorization never relies on
	// them: it uses the account's current state.
	Username    string   `json:"username,omitempty"`
	Email       string   `json:"email,omitempty"`
	IsStaff     *bool    `json:"is_staff,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}

// Profile holds the informational claims of an access token.
type Profile struct {
	Username    string
	Email       string
	IsStaff     bool
	Permissions []string
}

// Tokens issues and verifies RS256 tokens.
type Tokens struct {
	keys   KeySource
	cfg    TokenConfig
	now    func() time.Time
	parser *jwt.Parser

	// verified holds the claims of tokens Parse accepted, by kind and
	// token, so that a token presented again (every request of a client
	// does) is not verified again: its signature and claims cannot have
	// changed. What can change is checked at every use: expiry, and the
	// key that signed it, which may have retired or gone since (a token is
	// never valid past its key). What a token's session and account allow
	// is checked against the log at every request, not here.
	mu       sync.Mutex
	verified map[string]verifiedToken
}

// verifiedToken is a token Parse accepted: its claims, and the key that
// verified it.
type verifiedToken struct {
	claims Claims
	kid    string
	key    *rsa.PublicKey
}

// maxVerified bounds Tokens.verified; past it, the cache starts over.
const maxVerified = 8192

// NewTokens returns a token issuer and verifier.
func NewTokens(keys KeySource, cfg TokenConfig, now func() time.Time) *Tokens {
	if keys == nil {
		panic("auth: nil keys")
	}
	if now == nil {
		now = time.Now
	}
	return &Tokens{
		keys: keys,
		cfg:  cfg,
		now:  now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithTimeFunc(now),
		),
	}
}

// Keys returns where the tokens' keys come from.
func (t *Tokens) Keys() KeySource { return t.keys }

// Config returns the token settings.
func (t *Tokens) Config() TokenConfig { return t.cfg }

// Issued is a signed token and its claims.
type Issued struct {
	Token  string
	Claims Claims
}

// NewTokenID returns a random token id (jti).
func NewTokenID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("auth: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// IssueAccess signs an access token for user sub in session sid.
func (t *Tokens) IssueAccess(sub, sid string, p Profile) (Issued, error) {
	staff := p.IsStaff
	c := Claims{
		RegisteredClaims: t.registered(sub, NewTokenID(), t.cfg.AccessTTL),
		Type:             TypeAccess,
		SessionID:        sid,
		Username:         p.Username,
		Email:            p.Email,
		IsStaff:          &staff,
		Permissions:      p.Permissions,
	}
	return t.sign(c, typAccess)
}

// IssueRefresh signs a refresh token with the given id for user sub in session sid.
func (t *Tokens) IssueRefresh(sub, sid, jti string) (Issued, error) {
	c := Claims{
		RegisteredClaims: t.registered(sub, jti, t.cfg.RefreshTTL),
		Type:             TypeRefresh,
		SessionID:        sid,
	}
	return t.sign(c, typRefresh)
}

func (t *Tokens) registered(sub, jti string, ttl time.Duration) jwt.RegisteredClaims {
	now := t.now().Truncate(time.Second)
	return jwt.RegisteredClaims{
		Issuer:    t.cfg.Issuer,
		Subject:   sub,
		Audience:  jwt.ClaimStrings{t.cfg.Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		ID:        jti,
	}
}

func (t *Tokens) sign(c Claims, typ string) (Issued, error) {
	k := t.keys.SigningKey()
	if k == nil {
		return Issued{}, errors.New("sign token: no signing key yet")
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = k.KID
	tok.Header["typ"] = typ
	s, err := tok.SignedString(k.Private)
	if err != nil {
		return Issued{}, fmt.Errorf("sign token: %w", err)
	}
	return Issued{Token: s, Claims: c}, nil
}

// TokenError says why a token was refused. Reason is for logs; clients get
// a generic message.
type TokenError struct {
	Reason string
	Err    error
}

func (e *TokenError) Error() string {
	if e.Err != nil {
		return "invalid token: " + e.Reason + ": " + e.Err.Error()
	}
	return "invalid token: " + e.Reason
}

func (e *TokenError) Unwrap() error { return e.Err }

// Expired reports whether the token was refused only for being expired.
func (e *TokenError) Expired() bool { return errors.Is(e.Err, jwt.ErrTokenExpired) }

// Parse verifies a token of the wanted type and returns its claims. It
// accepts only RS256 signed by this server's key (by kid), with the
// configured issuer and audience, an expiry, and the wanted type; anything
// else is a *TokenError.
func (t *Tokens) Parse(token, wantType string) (*Claims, error) {
	if len(token) > MaxTokenLen {
		return nil, &TokenError{Reason: "too long"}
	}
	key := wantType + "\x00" + token
	t.mu.Lock()
	v, ok := t.verified[key]
	t.mu.Unlock()
	if ok {
		c := v.claims
		if c.ExpiresAt != nil && t.now().Before(c.ExpiresAt.Add(t.cfg.Leeway)) {
			if pub := t.keys.PublicKey(v.kid); pub != nil && pub.Equal(v.key) {
				return &c, nil
			}
		}
		t.mu.Lock()
		delete(t.verified, key)
		t.mu.Unlock()
	}
	parsed, kid, pub, err := t.parse(token, wantType)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if t.verified == nil || len(t.verified) >= maxVerified {
		t.verified = make(map[string]verifiedToken)
	}
	t.verified[key] = verifiedToken{claims: *parsed, kid: kid, key: pub}
	t.mu.Unlock()
	return parsed, nil
}

// parse verifies a token and its claims, and returns them with the key id
// and the key that verified it.
func (t *Tokens) parse(token, wantType string) (*Claims, string, *rsa.PublicKey, error) {
	wantTyp, lifetime := typAccess, t.cfg.AccessTTL
	if wantType == TypeRefresh {
		wantTyp, lifetime = typRefresh, t.cfg.RefreshTTL
	}
	var c Claims
	var kid string
	var pub *rsa.PublicKey
	_, err := t.parser.ParseWithClaims(token, &c, func(tok *jwt.Token) (any, error) {
		kid, _ = tok.Header["kid"].(string)
		pub = t.keys.PublicKey(kid)
		if pub == nil {
			return nil, errors.New("unknown kid")
		}
		return pub, nil
	})
	if err != nil {
		return nil, "", nil, &TokenError{Reason: reasonOf(err), Err: err}
	}
	// The header and the payload are decoded again, here, for what the
	// parser lets by: the header's typ, and NumericDate claims written as
	// JSON strings (which it reads as numbers).
	header, payload, _ := strings.Cut(token, ".")
	payload, _, _ = strings.Cut(payload, ".")
	h, err := decodeHeader(header)
	if err != nil || !typMatches(h.typ, wantTyp) {
		return nil, "", nil, &TokenError{Reason: fmt.Sprintf("header typ %q where %q is required", h.typ, wantTyp)}
	}
	if h.crit {
		// RFC 7515, 4.1.11: a critical extension the verifier does not
		// implement makes the token invalid; Inkwell implements none.
		return nil, "", nil, &TokenError{Reason: "header crit names extensions this server does not implement"}
	}
	if err := numericDates(payload); err != nil {
		return nil, "", nil, &TokenError{Reason: err.Error(), Err: jwt.ErrTokenInvalidClaims}
	}
	switch {
	case c.Type != wantType:
		return nil, "", nil, &TokenError{Reason: fmt.Sprintf("a %q token where an %q token is required", c.Type, wantType)}
	case c.Subject == "":
		return nil, "", nil, &TokenError{Reason: "no subject"}
	case c.ID == "":
		return nil, "", nil, &TokenError{Reason: "no token id"}
	case c.IssuedAt == nil:
		return nil, "", nil, &TokenError{Reason: "no issue time", Err: jwt.ErrTokenRequiredClaimMissing}
	case c.ExpiresAt.Sub(c.IssuedAt.Time) > lifetime:
		// A token living longer than a token of its type may (issued with
		// another lifetime, or forged with a key that leaked) would outlive
		// the retirement of the key that signed it.
		return nil, "", nil, &TokenError{Reason: fmt.Sprintf("a lifetime of %v, longer than the %v of a %s token", c.ExpiresAt.Sub(c.IssuedAt.Time), lifetime, wantType),
			Err: jwt.ErrTokenInvalidClaims}
	}
	return &c, kid, pub, nil
}

// tokenHeader is what Inkwell reads of a token's header beyond what the
// JWT parser checks.
type tokenHeader struct {
	typ  string // "" when it has none
	crit bool   // it has a crit parameter
}

// decodeHeader reads a token's header segment.
func decodeHeader(segment string) (tokenHeader, error) {
	b, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		return tokenHeader{}, err
	}
	var h struct {
		Typ  *string         `json:"typ"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return tokenHeader{}, err
	}
	out := tokenHeader{crit: h.Crit != nil}
	if h.Typ != nil {
		out.typ = *h.Typ
	}
	return out, nil
}

// typMatches compares a header typ with the wanted one as RFC 7515 (4.1.9)
// says: case-insensitively, the "application/" prefix optional.
func typMatches(typ, want string) bool {
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	return strings.EqualFold(typ, want)
}

// numericDates refuses exp, nbf and iat claims that are not JSON numbers
// (RFC 7519, section 2: a NumericDate is a JSON numeric value).
func numericDates(segment string) error {
	b, err := base64.RawURLEncoding.DecodeString(segment)
	if err != nil {
		return err
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(b, &claims); err != nil {
		return err
	}
	for _, name := range []string{"exp", "nbf", "iat"} {
		v, ok := claims[name]
		if !ok {
			continue
		}
		if len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
			return fmt.Errorf("claim %s is not a JSON number", name)
		}
	}
	return nil
}

func reasonOf(err error) string {
	for _, e := range []error{
		jwt.ErrTokenMalformed, jwt.ErrTokenSignatureInvalid, jwt.ErrTokenUnverifiable,
		jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued,
		jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidAudience, jwt.ErrTokenRequiredClaimMissing,
		jwt.ErrTokenInvalidClaims,
	} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "invalid"
}
