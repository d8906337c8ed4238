package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// What an error about a setting says: the flag and the variable that set it
// (an operator may have used either), the value and the form it takes, and
// never a secret. A URL's password (and a NATS token) is redacted wherever
// an error or a log line prints the URL, including in errors of drivers
// that quote the URL they were given.

// The settings that errors found at start-up name most, as they are
// written in parentheses after what they set.
const (
	settingDataDir     = "--data-dir, $INKWELL_DATA_DIR"
	settingDatabaseURL = "--database-url, $INKWELL_DATABASE_URL"
	settingNATSURL     = "--nats-url, $INKWELL_NATS_URL"
	settingNATSWait    = "--nats-wait, $INKWELL_NATS_WAIT"
	settingMasterKey   = "--master-key, $INKWELL_MASTER_KEY_PATH"
)

// durationValue is a flag.Value of a time.Duration whose error says the
// value and the form a duration takes: flag's own says "parse error".
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return fmt.Errorf("%q has no unit: give a duration such as %ss, %sm or %sh", s, s, s, s)
		}
		return fmt.Errorf("%q is not a duration: give a number and a unit (s, m or h), such as 15s, 2m or 1h30m", s)
	}
	*d = durationValue(v)
	return nil
}

// intValue is a flag.Value of an int whose error says the value and the
// form: flag's own says "parse error".
type intValue int

func (n *intValue) String() string { return strconv.Itoa(int(*n)) }

func (n *intValue) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%q is out of range", s)
		}
		return fmt.Errorf("%q is not a whole number: give digits only, such as 5", s)
	}
	*n = intValue(v)
	return nil
}

// userinfoInURL matches the user and password of any URL in a text, and
// tokenInURL the token a NATS URL may carry instead (nats://token@host).
var (
	userinfoInURL = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^:/\s"'@]*):[^/\s"'@]*@`)
	tokenInURL    = regexp.MustCompile(`((?:nats|tls|ws|wss)://)[^:/\s"'@]+@`)
)

// redactURL returns raw (a URL, or several comma-separated) with its
// passwords and tokens replaced by xxxxx, whether or not it parses.
func redactURL(raw string) string { return redact(raw, raw) }

// redact returns text with every secret of the URL setting raw replaced by
// xxxxx, and the password of any URL in it: drivers quote their URL in
// their errors ("parse \"postgres://u:p@host:notaport/db\": invalid port").
func redact(text, raw string) string {
	// The exact secrets first: a password holding "@" or "/" defeats the
	// patterns below.
	for _, s := range urlSecrets(raw) {
		text = strings.ReplaceAll(text, s, "xxxxx")
	}
	text = userinfoInURL.ReplaceAllString(text, "${1}${2}:xxxxx@")
	return tokenInURL.ReplaceAllString(text, "${1}xxxxx@")
}

// urlSecrets returns the passwords and tokens of the URLs in raw (comma
// separated), as written and unescaped, found without parsing the URL (it
// may not parse): what comes after the user and before the last "@" of the
// authority, the whole user part of a NATS URL (a token), and a password
// given in the query. Secrets too short to be told apart from other text
// are left to the patterns of redact.
func urlSecrets(raw string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 4 {
			out = append(out, s)
		}
		if u, err := url.PathUnescape(s); err == nil && u != s && len(u) >= 4 {
			out = append(out, u)
		}
	}
	for _, part := range strings.Split(raw, ",") {
		scheme, rest, found := strings.Cut(strings.TrimSpace(part), "://")
		if !found {
			scheme, rest = "", strings.TrimSpace(part) // NATS takes host:port alone
		}
		authority, query := rest, ""
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			authority = rest[:i]
		}
		if i := strings.IndexByte(rest, '?'); i >= 0 {
			query = rest[i+1:]
		}
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			userinfo := authority[:at]
			if _, password, ok := strings.Cut(userinfo, ":"); ok {
				add(password)
			} else if !strings.HasPrefix(scheme, "postgres") {
				add(userinfo) // a NATS token
			}
		}
		if q, err := url.ParseQuery(query); err == nil {
			for _, key := range []string{"password", "sslpassword"} {
				for _, v := range q[key] {
					add(v)
				}
			}
		}
	}
	return out
}

// redactedError is an error whose text has the secrets of a URL setting
// redacted; errors.Is and errors.As still see the error it replaces.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactErr returns err with the secrets of the URL settings raws
// redacted from its text (nil for nil).
func redactErr(err error, raws ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, raw := range raws {
		msg = redact(msg, raw)
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// checkURLs refuses a URL setting (comma-separated URLs when several is set)
// that does not parse, saying why with the password redacted. A URL
// without a scheme is given defaultScheme, as its client does.
func checkURLs(raw, defaultScheme string, several bool) error {
	parts := []string{raw}
	if several {
		parts = strings.Split(raw, ",")
	}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return fmt.Errorf("%q holds an empty URL", redactURL(raw))
		}
		if !strings.Contains(p, "://") {
			p = defaultScheme + "://" + p
		}
		if _, err := url.Parse(p); err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return fmt.Errorf("%q is not a URL: %v", redactURL(p), redact(err.Error(), p))
		}
	}
	return nil
}

// dataDirError explains an error reaching the data directory dir (creating,
// reading or changing it): the path and the setting, and, when it is a
// matter of permissions, which user runs Inkwell, what it needs and how to
// give it.
func dataDirError(what, dir string, err error) error {
	if !errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%s %s (%s): %w", what, dir, settingDataDir, err)
	}
	me, name := currentUser()
	fix := fmt.Sprintf("Inkwell runs as %s, which needs read, write and execute (rwx) permission on the data directory and everything in it", me)
	switch owner, ok := ownerOf(dir); {
	case ok && owner == name:
		fix += fmt.Sprintf(": give them to it (chmod -R u+rwX %s)", dir)
	case ok:
		fix += fmt.Sprintf(": it belongs to %s; run Inkwell as %s, or make %s its owner (chown -R %s %s)", owner, owner, name, name, dir)
	default:
		fix += fmt.Sprintf(", and write permission on %s to create it there: or create it for %s (mkdir -p -m 700 %s && chown %s %s)",
			existingAncestor(dir), name, dir, name, dir)
	}
	return fmt.Errorf("%s %s (%s): %w. %s; or give another --data-dir", what, dir, settingDataDir, err, fix)
}

// existingAncestor returns the nearest directory above path that exists.
func existingAncestor(path string) string {
	for dir := filepath.Dir(filepath.Clean(path)); ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(dir); err == nil || dir == filepath.Dir(dir) {
			return dir
		}
	}
}

// currentUser describes the user running this process ("the user nobody
// (uid 65534)") and names it as chown takes it.
func currentUser() (describe, name string) {
	uid := os.Getuid()
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("the user %s (uid %d)", u.Username, uid), u.Username
	}
	return fmt.Sprintf("the user of uid %d", uid), strconv.Itoa(uid)
}

// ownerOf names the owner of path, if it exists.
func ownerOf(path string) (string, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
		return u.Username, true
	}
	return strconv.Itoa(int(st.Uid)), true
}
