package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	main "inkwell/cmd/inkwell"
	"inkwell/domain"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/users"
	"inkwell/testkit"
)

// djangoProject is the Django project of the tutorial's models that builds
// the databases these tests import (djangoimport/testdata/djangoblog).
var djangoProject = filepath.Join("..", "..", "djangoimport", "testdata", "djangoblog")

// djangoPython returns a Python 3 with Debian's python3-django (3.2) and
// the modules the test project uses (argon2, bcrypt, and psycopg2 when
// postgres is set), or skips the test.
func djangoPython(t *testing.T, postgres bool) string {
	t.Helper()
	modules := "import django, argon2, bcrypt"
	if postgres {
		modules += ", psycopg2"
	}
	candidates := []string{"python3", "/usr/bin/python3"}
	if p := os.Getenv("INKWELL_TEST_PYTHON"); p != "" {
		candidates = []string{p}
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", modules).Run() == nil {
			return p
		}
	}
	testkit.Skip(t, "python3-django", "apt-get install python3-django python3-argon2 python3-bcrypt python3-psycopg2 (or set INKWELL_TEST_PYTHON)")
	return ""
}

// djangoData is what the test project prints: the Django database as
// Django's ORM reads it, with the users' passwords in clear.
type djangoData struct {
	Users []struct {
		ID              int
		Username, Email string
		FirstName       string `json:"first_name"`
		LastName        string `json:"last_name"`
		Bio, Avatar     string
		IsActive        bool   `json:"is_active"`
		IsStaff         bool   `json:"is_staff"`
		IsSuperuser     bool   `json:"is_superuser"`
		DateJoined      string `json:"date_joined"`
		Hasher          string
		Password        *string
	}
	Categories []struct {
		ID                      int
		Name, Slug, Description string
		CreatedAt               string `json:"created_at"`
	}
	Articles []struct {
		ID                                    int
		Title, Slug, Content, Excerpt, Author string
		Category                              *string
		Tags                                  []string
		CoverImage                            string  `json:"cover_image"`
		IsPublished                           bool    `json:"is_published"`
		PublishedAt                           *string `json:"published_at"`
		CreatedAt                             string  `json:"created_at"`
	}
}

// makeDjangoDatabase runs the test project on database (a SQLite file or a
// postgres:// URL) with scenario, and returns what Django then holds.
func makeDjangoDatabase(t *testing.T, python, database, scenario string) djangoData {
	t.Helper()
	cmd := exec.Command(python, "-B", "make_db.py", database, scenario)
	cmd.Dir = djangoProject
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("make_db.py %s: %v\n%s", scenario, err, stderr.String())
	}
	var d djangoData
	if err := json.Unmarshal(stdout.Bytes(), &d); err != nil {
		t.Fatalf("make_db.py %s printed %q: %v", scenario, stdout.String(), err)
	}
	return d
}

// djangoPostgres creates a PostgreSQL database of its own for a Django
// database (beside the test database, whose tables other tests use), and
// drops it when the test ends.
func djangoPostgres(t *testing.T) string {
	t.Helper()
	base := os.Getenv("INKWELL_TEST_DATABASE_URL")
	if base == "" {
		testkit.Skip(t, "INKWELL_TEST_DATABASE_URL", "set it to a PostgreSQL URL whose user may create databases")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	name := fmt.Sprintf("inkwell_django_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// runInkwell runs the inkwell command line in the test process.
func runInkwell(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := main.Run(ctx, args, func(string) string { return "" }, nil, &stdout, &stderr); err != nil {
		t.Fatalf("inkwell %s: %v\n%s\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// importCounts reads the table of counts an import printed: for each
// table, its rows, imported, already imported and skipped.
func importCounts(t *testing.T, out string) map[string][4]int {
	t.Helper()
	counts := map[string][4]int{}
	line := regexp.MustCompile(`(?m)^\s*(blog_\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$`)
	for _, m := range line.FindAllStringSubmatch(out, -1) {
		var c [4]int
		for i := range c {
			fmt.Sscan(m[i+2], &c[i])
		}
		counts[m[1]] = c
	}
	if len(counts) != 4 {
		t.Fatalf("no table of counts in the import's output:\n%s", out)
	}
	return counts
}

func sameCounts(t *testing.T, what string, got map[string][4]int, want map[string][4]int) {
	t.Helper()
	for table, w := range want {
		if got[table] != w {
			t.Errorf("%s: %s counts (rows, imported, already, skipped) %v, want %v", what, table, got[table], w)
		}
	}
}

// sameTime fails unless the API's time got is the instant Django printed.
func sameTime(t *testing.T, what string, got any, django string) {
	t.Helper()
	want, err := time.Parse(time.RFC3339Nano, django)
	if err != nil {
		t.Fatalf("%s: Django's time %q: %v", what, django, err)
	}
	s, _ := got.(string)
	g, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !g.Equal(want) {
		t.Errorf("%s: %v, want %s (Django's)", what, got, django)
	}
}

func TestImportDjangoSQLite(t *testing.T) {
	t.Parallel()
	python := djangoPython(t, false)
	testDjangoImport(t, python, filepath.Join(t.TempDir(), "db.sqlite3"))
}

func TestImportDjangoPostgreSQL(t *testing.T) {
	t.Parallel()
	python := djangoPython(t, true)
	testDjangoImport(t, python, djangoPostgres(t))
}

// testDjangoImport builds the tutorial's Django database on database with
// Django, imports it into a running server, and checks that every account
// logs in with its Django password (and then holds an argon2id hash), that
// the articles and lists answer what Django holds, field by field, that
// roles keep their powers, that a second import records nothing and a
// third only the rows added since, and that a rebuild of the read models
// equals the live ones.
func testDjangoImport(t *testing.T, python, database string) {
	django := makeDjangoDatabase(t, python, database, "tutorial")
	s := startServer(t, func(c *main.Config) { c.DjangoPasswordIterations = 260000 })
	dataDir := []string{"--data-dir", s.Config.DataDir}

	// A dry run reports what it would do and records nothing.
	var out string
	s.appendsNothing(t, "a dry run", func() {
		out = runInkwell(t, append([]string{"import", "django", "--dry-run", "--database", database}, dataDir...)...)
	})
	sameCounts(t, "dry run", importCounts(t, out), map[string][4]int{
		"blog_user": {9, 9, 0, 0}, "blog_category": {2, 2, 0, 0}, "blog_tag": {3, 3, 0, 0}, "blog_article": {4, 4, 0, 0}})
	if !strings.Contains(out, "Dry run: nothing was recorded.") {
		t.Errorf("the dry run does not say it recorded nothing:\n%s", out)
	}

	out = runInkwell(t, append([]string{"import", "django", "--database", database}, dataDir...)...)
	sameCounts(t, "first import", importCounts(t, out), map[string][4]int{
		"blog_user": {9, 9, 0, 0}, "blog_category": {2, 2, 0, 0}, "blog_tag": {3, 3, 0, 0}, "blog_article": {4, 4, 0, 0}})
	if !strings.Contains(out, "INKWELL_DJANGO_PASSWORD_ITERATIONS=260000") {
		t.Errorf("the import does not say the PBKDF2 iterations to set:\n%s", out)
	}
	waitForLog(t, s)

	// Every account: its profile and roles as Django had them; its
	// Django password logs it in (unless it is disabled or has none), and
	// then it holds an argon2id hash that logs it in again.
	access := map[string]string{}
	for _, u := range django.Users {
		id := importedID(t, s, "user", u.ID)
		password := "any password at all" // for the account made without one
		if u.Password != nil {
			password = *u.Password
		}
		login := s.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": u.Username, "password": password})
		switch {
		case u.Password == nil:
			expect(t, login, http.StatusUnauthorized)
			continue
		case !u.IsActive:
			if login.Status != http.StatusUnauthorized || !strings.Contains(string(login.Body), "disabled") {
				t.Errorf("%s (disabled in Django) logging in: %d %s", u.Username, login.Status, login.Body)
			}
			continue
		}
		var tk tokens
		expect(t, login, http.StatusOK).JSON(t, &tk)
		access[u.Username] = tk.AccessToken
		if scheme := passwordScheme(t, s, id); scheme != "argon2id" {
			t.Errorf("%s (a %s hash in Django) holds a %s hash after logging in", u.Username, u.Hasher, scheme)
		}
		expect(t, s.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": u.Username, "password": password}), http.StatusOK)
		expect(t, s.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": u.Username, "password": password + "x"}), http.StatusUnauthorized)

		me := expect(t, s.request(t, "GET", "/api/auth/me/", tk.AccessToken, nil), http.StatusOK).Map(t)
		for field, want := range map[string]any{"id": id, "username": u.Username, "email": u.Email, "first_name": u.FirstName,
			"last_name": u.LastName, "bio": u.Bio, "avatar": u.Avatar, "is_active": true, "is_staff": u.IsStaff, "is_superuser": u.IsSuperuser} {
			if me[field] != want {
				t.Errorf("%s: %s %v, want %v (Django's)", u.Username, field, me[field], want)
			}
		}
		sameTime(t, u.Username+": date_joined", me["date_joined"], u.DateJoined)
	}
	if len(access) != 7 {
		t.Fatalf("%d accounts logged in, want 7: %v", len(access), access)
	}

	// Articles, field by field, as their authors see them (drafts too).
	published := 0
	for _, a := range django.Articles {
		id := importedID(t, s, "article", a.ID)
		got := expect(t, s.request(t, "GET", "/api/articles/"+id+"/", access[a.Author], nil), http.StatusOK).Map(t)
		for field, want := range map[string]any{"title": a.Title, "slug": a.Slug, "content": a.Content,
			"cover_image": a.CoverImage, "is_published": a.IsPublished} {
			if got[field] != want {
				t.Errorf("article %d: %s %v, want %v", a.ID, field, got[field], want)
			}
		}
		if a.Excerpt != "" && got["excerpt"] != a.Excerpt {
			t.Errorf("article %d: excerpt %v, want %q", a.ID, got["excerpt"], a.Excerpt)
		}
		if author, _ := got["author"].(map[string]any); author["username"] != a.Author {
			t.Errorf("article %d: author %v, want %s", a.ID, got["author"], a.Author)
		}
		category, _ := got["category"].(map[string]any)
		if (a.Category == nil) != (category == nil) || a.Category != nil && category["slug"] != *a.Category {
			t.Errorf("article %d: category %v, want %v", a.ID, got["category"], a.Category)
		}
		var tags []string
		for _, tg := range got["tags"].([]any) {
			tags = append(tags, tg.(map[string]any)["slug"].(string))
		}
		slices.Sort(tags)
		if !slices.Equal(tags, a.Tags) {
			t.Errorf("article %d: tags %v, want %v", a.ID, tags, a.Tags)
		}
		sameTime(t, fmt.Sprintf("article %d: created_at", a.ID), got["created_at"], a.CreatedAt)
		if a.PublishedAt != nil {
			sameTime(t, fmt.Sprintf("article %d: published_at", a.ID), got["published_at"], *a.PublishedAt)
		} else if got["published_at"] != nil {
			t.Errorf("article %d: published_at %v, want null", a.ID, got["published_at"])
		}
		if a.IsPublished {
			published++
			expect(t, s.request(t, "GET", "/api/articles/"+a.Slug+"/", "", nil), http.StatusOK)
		} else {
			expect(t, s.request(t, "GET", "/api/articles/"+a.Slug+"/", "", nil), http.StatusNotFound)
		}
	}
	if n := s.articleCount(t, ""); n != published {
		t.Errorf("the public list counts %d articles, want %d (Django's published ones)", n, published)
	}
	for _, c := range django.Categories {
		got := expect(t, s.request(t, "GET", "/api/categories/"+c.Slug+"/", "", nil), http.StatusOK).Map(t)
		if got["name"] != c.Name || got["description"] != c.Description {
			t.Errorf("category %s: %v", c.Slug, got)
		}
		sameTime(t, "category "+c.Slug+": created_at", got["created_at"], c.CreatedAt)
	}

	// Roles keep their powers: staff manage users, only a superuser grants
	// staff; a regular user does neither.
	expect(t, s.request(t, "GET", "/api/users/", access["editor"], nil), http.StatusOK)
	expect(t, s.request(t, "GET", "/api/users/", access["jane"], nil), http.StatusForbidden)
	expect(t, s.request(t, "PATCH", "/api/users/jane/", access["editor"], map[string]any{"is_staff": true}), http.StatusForbidden)
	expect(t, s.request(t, "PATCH", "/api/users/jane/", access["admin"], map[string]any{"is_staff": true}), http.StatusOK)

	// An old id still finds its row.
	lookup := runInkwell(t, append([]string{"import", "lookup", "--type", "article", "--ids", "1,999"}, dataDir...)...)
	if want := "1 " + importedID(t, s, "article", 1) + "\n999 -\n"; lookup != want {
		t.Errorf("import lookup printed %q, want %q", lookup, want)
	}

	// A second import records nothing.
	s.appendsNothing(t, "a second import", func() {
		out = runInkwell(t, append([]string{"import", "django", "--database", database}, dataDir...)...)
	})
	sameCounts(t, "second import", importCounts(t, out), map[string][4]int{
		"blog_user": {9, 0, 9, 0}, "blog_category": {2, 0, 2, 0}, "blog_tag": {3, 0, 3, 0}, "blog_article": {4, 0, 4, 0}})

	// Rows added in Django since: only they are imported.
	delta := makeDjangoDatabase(t, python, database, "delta")
	out = runInkwell(t, append([]string{"import", "django", "--database", database}, dataDir...)...)
	sameCounts(t, "delta import", importCounts(t, out), map[string][4]int{
		"blog_user": {10, 1, 9, 0}, "blog_category": {2, 0, 2, 0}, "blog_tag": {4, 1, 3, 0}, "blog_article": {5, 1, 4, 0}})
	waitForLog(t, s)
	newcomer := delta.Users[len(delta.Users)-1]
	expect(t, s.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": newcomer.Username, "password": *newcomer.Password}), http.StatusOK)
	if n := s.articleCount(t, ""); n != published+1 {
		t.Errorf("after the delta the public list counts %d articles, want %d", n, published+1)
	}

	// A rebuild of the read models gives the rows the live ones have, once
	// they have applied the whole log (the newcomer's login replaced their
	// hash: an event the login's answer does not wait for).
	waitForLog(t, s)
	before := projectionstest.Snapshot(t, s.DB, articles.ReadModel{}, users.ReadModel{})
	runInkwell(t, append([]string{"replay"}, dataDir...)...)
	projectionstest.SameRows(t, "after a replay", projectionstest.Snapshot(t, s.DB, articles.ReadModel{}, users.ReadModel{}), before)
}

// The report of a Django database with every kind of rule violation names
// each row and its rule, and the rows are not imported; --keep-first and
// --fix-slugs resolve what they say.
func TestImportDjangoReportsEveryBrokenRule(t *testing.T) {
	t.Parallel()
	python := djangoPython(t, false)
	database := filepath.Join(t.TempDir(), "db.sqlite3")
	makeDjangoDatabase(t, python, database, "violations")
	dataDir := t.TempDir()

	out := runInkwell(t, "import", "django", "--database", database, "--data-dir", dataDir)
	for _, line := range []string{
		"blog_user 2: username collides with that of blog_user 3 (unique without regard to case)",
		"blog_user 3: username collides with that of blog_user 2 (unique without regard to case)",
		"blog_user 4: email collides with that of blog_user 5 (unique without regard to case)",
		"blog_user 5: email collides with that of blog_user 4 (unique without regard to case)",
		"blog_user 6: first_name must not contain invisible or bidirectional formatting characters (such as U+200B or U+202E)",
		"blog_tag 1: name collides with that of blog_tag 2 (unique without regard to case)",
		"blog_article 1: title must be at most 200 characters",
		"blog_article 2: slug must be lower-case letters, digits and single hyphens, at most 200 characters",
		"blog_article 2: slug collides with that of blog_article 3 (unique without regard to case)",
		"blog_article 4: slug must be lower-case letters, digits and single hyphens, at most 200 characters",
		"blog_article 5: author blog_user 3 is missing or not imported",
		"blog_article 6: author blog_user 999 is missing or not imported",
		"blog_article 7: cover_image must be an http or https URL of at most 500 characters",
		`blog_user 7: password hash scheme "md5" is not one Inkwell checks: imported without a usable password (legacy must be given a new one)`,
	} {
		if !strings.Contains(out, "  "+line+"\n") {
			t.Errorf("the report lacks %q:\n%s", line, out)
		}
	}
	sameCounts(t, "an import of rule breakers", importCounts(t, out), map[string][4]int{
		"blog_user": {7, 2, 0, 5}, "blog_category": {0, 0, 0, 0}, "blog_tag": {2, 0, 0, 2}, "blog_article": {7, 0, 0, 7}})

	// Resolved: of colliding rows the first, slugs normalized (article 2's
	// "Same-Slug" then collides with article 3's, and is the first), cover
	// images under a media URL.
	out = runInkwell(t, "import", "django", "--keep-first", "--fix-slugs", "--media-url", "https://blog.example.com/media/",
		"--database", database, "--data-dir", dataDir)
	for _, line := range []string{
		"blog_user 2: username collides with that of blog_user 3 (unique without regard to case); imported (--keep-first)",
		"blog_article 2: slug collides with that of blog_article 3 (unique without regard to case); imported (--keep-first)",
	} {
		if !strings.Contains(out, "  "+line+"\n") {
			t.Errorf("the report lacks %q:\n%s", line, out)
		}
	}
	sameCounts(t, "an import resolving them", importCounts(t, out), map[string][4]int{
		"blog_user": {7, 2, 2, 3}, "blog_category": {0, 0, 0, 0}, "blog_tag": {2, 1, 0, 1}, "blog_article": {7, 3, 0, 4}})
}

// waitForLog waits until the server's read models have applied the last
// event of each aggregate type an import records (each projection counts
// only the events it follows).
func waitForLog(t *testing.T, s *server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, typ := range []string{domain.AggregateUser, domain.AggregateCategory, domain.AggregateTag, domain.AggregateArticle} {
		last, err := s.Store.LastSeqOf(ctx, s.Store.SubjectsOf(typ)...)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Projection.WaitFor(ctx, typ, last); err != nil {
			t.Fatalf("read models reaching the last %s event (%d): %v", typ, last, err)
		}
	}
}

// importedID is the Inkwell id of the Django row key of type typ, as an
// import recorded it.
func importedID(t *testing.T, s *server, typ string, key int) string {
	t.Helper()
	var c domain.Claim
	recs, _, err := s.Store.Load(context.Background(), s.Store.ClaimStream(domain.ClaimImported("django", typ), fmt.Sprint(key)))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		c.Apply(r)
	}
	owner, _, held := c.Held()
	if !held {
		t.Fatalf("no %s imported for Django id %d", typ, key)
	}
	return owner.ID
}

// passwordScheme is the scheme of the password hash user id holds.
func passwordScheme(t *testing.T, s *server, id string) string {
	t.Helper()
	recs, _, err := s.Store.Load(context.Background(), domain.UserStream(id))
	if err != nil {
		t.Fatal(err)
	}
	var u domain.User
	for _, r := range recs {
		u.Apply(r)
	}
	return domain.PasswordHashScheme(u.PasswordHash())
}

// The tokens the Django app issued keep working at Inkwell, given its
// public key, until they expire: an access token authenticates as the
// account its subject became (a session of its own, which a logout ends),
// a refresh token is exchanged once for Inkwell tokens; an expired token,
// one of another audience or of a user never imported does not.
func TestImportDjangoTokensKeepWorking(t *testing.T) {
	t.Parallel()
	python := djangoPython(t, false)
	database := filepath.Join(t.TempDir(), "db.sqlite3")
	django := makeDjangoDatabase(t, python, database, "tutorial")

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(t.TempDir(), "public_key.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	const iss, aud = "https://your-api.com", "your-api"
	s := startServer(t, func(c *main.Config) {
		c.DjangoJWTPublicKeyPath, c.DjangoJWTIssuer, c.DjangoJWTAudience = keyPath, iss, aud
	})
	runInkwell(t, "import", "django", "--database", database, "--data-dir", s.Config.DataDir)
	waitForLog(t, s)

	// As the tutorial's create_access_token and create_refresh_token make them.
	sign := func(sub, audience string, ttl time.Duration, extra map[string]any) string {
		now := time.Now()
		claims := jwt.MapClaims{"sub": sub, "iss": iss, "aud": audience, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
		for k, v := range extra {
			claims[k] = v
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	var john int
	for _, u := range django.Users {
		if u.Username == "johndoe" {
			john = u.ID
		}
	}
	access := sign(fmt.Sprint(john), aud, 15*time.Minute, nil)
	for range 2 {
		me := expect(t, s.request(t, "GET", "/api/auth/me/", access, nil), http.StatusOK).Map(t)
		if me["username"] != "johndoe" || me["id"] != importedID(t, s, "user", john) {
			t.Fatalf("a Django token of johndoe authenticates as %v", me)
		}
	}
	expect(t, s.request(t, "GET", "/api/auth/me/", sign(fmt.Sprint(john), aud, -time.Minute, nil), nil), http.StatusUnauthorized)
	expect(t, s.request(t, "GET", "/api/auth/me/", sign(fmt.Sprint(john), "another-api", 15*time.Minute, nil), nil), http.StatusUnauthorized)
	expect(t, s.request(t, "GET", "/api/auth/me/", sign("999", aud, 15*time.Minute, nil), nil), http.StatusUnauthorized)
	refresh := sign(fmt.Sprint(john), aud, 7*24*time.Hour, map[string]any{"type": "refresh"})
	expect(t, s.request(t, "GET", "/api/auth/me/", refresh, nil), http.StatusUnauthorized)

	var tk tokens
	expect(t, s.request(t, "POST", "/api/auth/refresh/", "", map[string]string{"refresh_token": refresh}), http.StatusOK).JSON(t, &tk)
	if me := expect(t, s.request(t, "GET", "/api/auth/me/", tk.AccessToken, nil), http.StatusOK).Map(t); me["username"] != "johndoe" {
		t.Fatalf("the Inkwell token a Django refresh token was exchanged for is %v's", me["username"])
	}
	expect(t, s.request(t, "POST", "/api/auth/refresh/", "", map[string]string{"refresh_token": refresh}), http.StatusUnauthorized)
	expect(t, s.request(t, "POST", "/api/auth/refresh/", "", map[string]string{"refresh_token": tk.RefreshToken}), http.StatusOK)

	expect(t, s.request(t, "POST", "/api/auth/logout/", access, nil), http.StatusNoContent)
	expect(t, s.request(t, "GET", "/api/auth/me/", access, nil), http.StatusUnauthorized)
}
