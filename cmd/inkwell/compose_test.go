package main_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"go.yaml.in/yaml/v4"

	"inkwell/eventstore"
)

// composeService is what the tests read of a service of docker-compose.yml,
// its anchors merged.
type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	EnvFile     any               `yaml:"env_file"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck *struct {
		Test    []string `yaml:"test"`
		Disable bool     `yaml:"disable"`
	} `yaml:"healthcheck"`
}

// composeFile reads docker-compose.yml: its services, and its text.
func composeFile(t *testing.T) (map[string]composeService, []byte) {
	t.Helper()
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(f.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return f.Services, b
}

// Read as an operator would: every container says whether it is healthy
// (or why it has no check), a service that runs the image for something
// other than serving does not inherit the image's probe of port 8000, and
// the services that build the Dockerfile run one image.
func TestComposeHealthChecksAndImage(t *testing.T) {
	t.Parallel()
	services, raw := composeFile(t)
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	images := map[string][]string{}
	for name, s := range services {
		switch hc := s.Healthcheck; {
		case hc == nil:
			t.Errorf("service %s has no healthcheck: give it one, or disable it and say why", name)
		case hc.Disable || slices.Equal(hc.Test, []string{"NONE"}):
			if healthcheckComment(&doc, name) == "" {
				t.Errorf("service %s disables its healthcheck without a comment saying why", name)
			}
		case len(hc.Test) == 0:
			t.Errorf("service %s: its healthcheck has no test", name)
		case s.Build != nil && len(s.Command) > 0 && s.Command[0] != "serve" && slices.Contains(hc.Test, "probe"):
			t.Errorf("service %s runs %v, yet its healthcheck probes a server it does not run", name, s.Command)
		}
		if s.Build != nil {
			images[s.Image] = append(images[s.Image], name)
		}
	}
	if len(images) != 1 || images[""] != nil {
		t.Errorf("the services that build the Dockerfile should name one image (build once, image shared); by image: %v", images)
	}
}

// healthcheckComment returns the comments around service's healthcheck key
// in docker-compose.yml: the reason a disabled check is disabled.
func healthcheckComment(doc *yaml.Node, service string) string {
	services := mappingValue(doc.Content[0], "services")
	if services == nil {
		return ""
	}
	svc := mappingValue(services, service)
	if svc == nil {
		return ""
	}
	for i := 0; i+1 < len(svc.Content); i += 2 {
		if k, v := svc.Content[i], svc.Content[i+1]; k.Value == "healthcheck" {
			c := k.HeadComment + k.LineComment + v.HeadComment + v.LineComment
			for _, n := range v.Content {
				c += n.HeadComment + n.LineComment
			}
			return strings.TrimSpace(c)
		}
	}
	return ""
}

// mappingValue returns the value of key in the mapping node m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// No password is written in docker-compose.yml: PostgreSQL and the
// instances read the one password from the same env file.
func TestComposeHasNoPasswordLiteral(t *testing.T) {
	t.Parallel()
	services, raw := composeFile(t)
	if m := regexp.MustCompile(`://[^/\s@:]+:[^/\s@]+@`).Find(raw); m != nil {
		t.Errorf("docker-compose.yml has a URL with a password: %s", m)
	}
	for name, s := range services {
		for k, v := range s.Environment {
			if strings.Contains(strings.ToUpper(k), "PASSWORD") && v != "" && !strings.HasPrefix(v, "${") {
				t.Errorf("service %s sets %s inline: put it in an env file", name, k)
			}
		}
	}

	const envFile = "deploy/postgres.env"
	env := map[string]string{}
	f, err := os.Open("../../" + envFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	if env["POSTGRES_PASSWORD"] == "" || env["POSTGRES_PASSWORD"] != env["PGPASSWORD"] {
		t.Errorf("%s: POSTGRES_PASSWORD (PostgreSQL's) and PGPASSWORD (the instances') must be set, to the same value", envFile)
	}
	for name, s := range services {
		usesDB := strings.HasPrefix(s.Environment["INKWELL_DATABASE_URL"], "postgres") && (len(s.Command) == 0 || s.Command[0] == "serve")
		if (usesDB || name == "postgres") && !strings.Contains(yamlString(t, s.EnvFile), envFile) {
			t.Errorf("service %s needs the PostgreSQL password: env_file %s", name, envFile)
		}
	}
}

func yamlString(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// HAProxy looks the instances up in Docker's DNS while it runs, has a health
// check of its own that the compose file asks, and passes haproxy -c.
func TestComposeHAProxy(t *testing.T) {
	t.Parallel()
	const cfgPath = "../../deploy/haproxy.cfg"
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	sections := haproxySections(string(b))
	var resolvers string
	for header, lines := range sections {
		if name, ok := strings.CutPrefix(header, "resolvers "); ok && slices.Contains(lines, "nameserver dns 127.0.0.11:53") {
			resolvers = name
		}
	}
	if resolvers == "" {
		t.Fatal("deploy/haproxy.cfg has no resolvers section with Docker's DNS (nameserver dns 127.0.0.11:53): instance names are resolved once, at start")
	}
	var servers int
	var health []string // port, path
	for header, lines := range sections {
		defaults := ""
		for _, l := range lines {
			if strings.HasPrefix(l, "default-server ") {
				defaults = l
			}
		}
		for _, l := range lines {
			if !strings.HasPrefix(l, "server ") {
				continue
			}
			servers++
			for _, want := range []string{"resolvers " + resolvers, "init-addr none", " check"} {
				if !strings.Contains(defaults+" "+l, want) {
					t.Errorf("deploy/haproxy.cfg, %s: %q lacks %q (on it or on default-server)", header, l, want)
				}
			}
		}
		if !strings.HasPrefix(header, "frontend ") {
			continue
		}
		var port, uri string
		for _, l := range lines {
			if p, ok := strings.CutPrefix(l, "bind :"); ok {
				port = p
			}
			if u, ok := strings.CutPrefix(l, "monitor-uri "); ok {
				uri = u
			}
		}
		if port != "" && uri != "" {
			health = []string{port, uri}
		}
	}
	if servers == 0 {
		t.Error("deploy/haproxy.cfg has no server line")
	}

	// The compose health check asks the frontend that holds monitor-uri.
	if health == nil {
		t.Fatal("deploy/haproxy.cfg has no frontend with a bind and a monitor-uri for a health check")
	}
	services, _ := composeFile(t)
	hc := services["haproxy"].Healthcheck
	want := "127.0.0.1:" + health[0] + health[1]
	if hc == nil || !strings.Contains(strings.Join(hc.Test, " "), want) {
		t.Errorf("the haproxy service's healthcheck should ask %s (deploy/haproxy.cfg's monitor-uri)", want)
	}

	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install haproxy): the configuration was not checked with haproxy -c")
	}
	if out, err := exec.Command(haproxy, "-c", "-f", cfgPath).CombinedOutput(); err != nil {
		t.Errorf("haproxy -c -f deploy/haproxy.cfg: %v\n%s", err, out)
	}
}

// haproxySections returns the sections of an HAProxy configuration, by
// their header line ("backend inkwell"): their lines, trimmed, without
// comments.
func haproxySections(cfg string) map[string][]string {
	sections := map[string][]string{}
	header := ""
	for _, line := range strings.Split(cfg, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case line == trimmed:
			header = trimmed
			sections[header] = nil
		default:
			sections[header] = append(sections[header], trimmed)
		}
	}
	return sections
}

// The documented backup of the master key copies the file the compose
// stack's instances read, from a service that mounts it.
func TestComposeMasterKeyBackupCommand(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/production-stack.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^docker compose cp ([a-z0-9-]+):(\S+) (\S+)$`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/production-stack.md shows no `docker compose cp SERVICE:PATH DEST` to back up the master key")
	}
	service, path := string(m[1]), string(m[2])
	services, _ := composeFile(t)
	s, ok := services[service]
	if !ok {
		t.Fatalf("docs/production-stack.md copies from service %s, which docker-compose.yml does not have", service)
	}
	if got := s.Environment["INKWELL_MASTER_KEY_PATH"]; got != path {
		t.Errorf("docs/production-stack.md copies %s, but %s's master key is INKWELL_MASTER_KEY_PATH=%q", path, service, got)
	}
	onVolume := false
	for _, v := range s.Volumes {
		src, dst, _ := strings.Cut(v, ":")
		dst, _, _ = strings.Cut(dst, ":")
		if !strings.ContainsAny(src, "./") && strings.HasPrefix(path, strings.TrimSuffix(dst, "/")+"/") {
			onVolume = true
		}
	}
	if !onVolume {
		t.Errorf("%s is on no named volume of service %s (volumes %v): it would not outlive the container", path, service, s.Volumes)
	}
	if !bytes.Contains(doc, []byte("INKWELL_MASTER_KEY_PATH")) {
		t.Error("docs/production-stack.md does not say which setting names the master key's file")
	}
}

// docker-compose.yml passes the build args the Dockerfile stamps.
func TestComposePassesBuildStamp(t *testing.T) {
	t.Parallel()
	services, _ := composeFile(t)
	for name, s := range services {
		if s.Build == nil {
			continue
		}
		build := yamlString(t, s.Build)
		for _, arg := range []string{"VERSION", "REVISION"} {
			if !regexp.MustCompile(`(?m)^\s+` + arg + `: `).MatchString(build) {
				t.Errorf("service %s does not pass the build arg %s: its image cannot say which build it is", name, arg)
			}
		}
	}
}

// Every NATS node of the stack reads a configuration whose max_payload takes
// Inkwell's largest message (eventstore.MinMessageLimit): at a node's
// default, 1 MiB, a long article would be refused.
func TestComposeNATSTakesTheLargestEvent(t *testing.T) {
	t.Parallel()
	services, _ := composeFile(t)
	nodes := 0
	for name, s := range services {
		if !strings.HasPrefix(s.Image, "nats:") {
			continue
		}
		nodes++
		i := slices.Index(s.Command, "--config")
		if i < 0 || i+1 >= len(s.Command) {
			t.Errorf("NATS node %s reads no configuration file: %v", name, s.Command)
			continue
		}
		path := s.Command[i+1]
		var host string
		for _, v := range s.Volumes {
			if src, dst, ok := strings.Cut(strings.TrimSuffix(v, ":ro"), ":"); ok && dst == path {
				host = src
			}
		}
		if host == "" {
			t.Errorf("NATS node %s reads %s, which no volume mounts", name, path)
			continue
		}
		opts, err := natsserver.ProcessConfigFile(filepath.Join("../..", host))
		if err != nil {
			t.Fatalf("NATS node %s: %s: %v", name, host, err)
		}
		if opts.MaxPayload < eventstore.MinMessageLimit {
			t.Errorf("NATS node %s: %s sets max_payload %d, below the largest message, %d", name, host, opts.MaxPayload, eventstore.MinMessageLimit)
		}
	}
	if nodes == 0 {
		t.Fatal("docker-compose.yml has no NATS node")
	}
}
