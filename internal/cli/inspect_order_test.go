package cli

import (
	"encoding/json"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// jsonKeys returns the keys of the JSON object s in the order they appear.
func jsonKeys(t *testing.T, s string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %q", s)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// orderChanges are import changes setting every Config field both docker
// (20.10 refuses STOPSIGNAL and HEALTHCHECK in import) and hoist accept.
var orderChanges = []string{"ENV A=b", `CMD ["sh"]`, "LABEL x=y", "EXPOSE 80", "WORKDIR /w", "VOLUME /v", "USER u", `ENTRYPOINT ["/e"]`, "ONBUILD RUN x"}

// TestInspectFieldOrder: `inspect -f '{{json .Config}}'` prints the keys in
// the order docker prints them (its CLI runs templates on typed structs:
// the OCI image config order, unset fields left out), the plain JSON keeps
// the engine's container.Config order, and templates naming JSON-only
// fields ({{.Id}}) still work as in docker.
func TestInspectFieldOrder(t *testing.T) {
	root := t.TempDir()
	tarPath := rootfsTar(t, map[string]string{"bin/sh": "x"})
	args := []string{"import"}
	for _, c := range orderChanges {
		args = append(args, "-c", c)
	}
	id := strings.TrimSpace(mustRun(t, root, append(args, tarPath, "order:1")...))

	const wantConfig = `{"User":"u","ExposedPorts":{"80/tcp":{}},"Env":["A=b"],"Entrypoint":["/e"],"Cmd":["sh"],"Volumes":{"/v":{}},"WorkingDir":"/w","Labels":{"x":"y"},"OnBuild":["RUN x"]}`
	if got := strings.TrimSpace(mustRun(t, root, "image", "inspect", "-f", "{{json .Config}}", "order:1")); got != wantConfig {
		t.Fatalf("{{json .Config}}:\n got %s\nwant %s", got, wantConfig)
	}
	// Fields docker's import refuses, in their places.
	id2 := strings.TrimSpace(mustRun(t, root, "import", "-c", "USER u", "-c", "STOPSIGNAL SIGINT", "-c", "HEALTHCHECK CMD true", "-c", `SHELL ["/bin/ash","-c"]`, "-c", "ONBUILD RUN y", tarPath))
	if got := jsonKeys(t, mustRun(t, root, "inspect", "-f", "{{json .Config}}", id2)); strings.Join(got, " ") != "User StopSignal Healthcheck OnBuild Shell" {
		t.Fatalf("{{json .Config}} keys: %v", got)
	}
	top := jsonKeys(t, mustRun(t, root, "inspect", "-f", "{{json .}}", "order:1"))
	if want := "Id RepoTags RepoDigests Parent Comment Created Container ContainerConfig DockerVersion Author Config Architecture Os Size VirtualSize GraphDriver RootFS Metadata"; strings.Join(top, " ") != want {
		t.Fatalf("{{json .}} keys:\n got %v\nwant %s", top, want)
	}
	// The plain JSON: the engine's form of Config.
	var plain []json.RawMessage
	if err := json.Unmarshal([]byte(mustRun(t, root, "image", "inspect", "order:1")), &plain); err != nil || len(plain) != 1 {
		t.Fatalf("inspect JSON: %v", err)
	}
	var obj map[string]json.RawMessage
	json.Unmarshal(plain[0], &obj)
	if got, want := strings.Join(jsonKeys(t, string(obj["Config"])), " "), "Hostname Domainname User AttachStdin AttachStdout AttachStderr ExposedPorts Tty OpenStdin StdinOnce Env Cmd Image Volumes WorkingDir Entrypoint OnBuild Labels"; got != want {
		t.Fatalf("inspect JSON Config keys:\n got %s\nwant %s", got, want)
	}
	// Typed and JSON-form fields, as docker resolves them.
	out := mustRun(t, root, "inspect", "-f", "{{.Id}} {{.Architecture}} {{index .RepoTags 0}} {{.Config.WorkingDir}} {{.Size}}", "order:1")
	if out != id+" "+runtime.GOARCH+" order:1 /w 1\n" {
		t.Fatalf("fields: %q", out)
	}
	if _, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", strings.TrimSpace(mustRun(t, root, "inspect", "-f", "{{.Metadata.LastTagTime}}", "order:1"))); err != nil {
		t.Fatalf("LastTagTime does not print as a Go time (docker's typed field): %v", err)
	}
	// json prints like docker's: no HTML escaping.
	id3 := strings.TrimSpace(mustRun(t, root, "import", "-c", "LABEL h=<a&b>", tarPath))
	if out := mustRun(t, root, "inspect", "-f", "{{json .Config.Labels}}", id3); out != `{"h":"<a&b>"}`+"\n" {
		t.Fatalf("json of labels: %q", out)
	}
	if _, errOut, code := run(t, root, "inspect", "-f", "{{.NoSuchField}}", "order:1"); code == 0 || !strings.Contains(errOut, "NoSuchField") {
		t.Fatalf("unknown field: exit %d %q", code, errOut)
	}

	// The same image in docker prints the same line.
	if testing.Short() || !dockerAnswers() {
		t.Log("docker not available: compared with the golden order only")
		return
	}
	dargs := []string{"import"}
	for _, c := range orderChanges {
		dargs = append(dargs, "-c", c)
	}
	tag := "hoist-test-order:" + strings.ToLower(id[7:19])
	if out, err := exec.Command("docker", append(dargs, tarPath, tag)...).CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
	dout, err := exec.Command("docker", "image", "inspect", "-f", "{{json .Config}}", tag).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(dout)); got != wantConfig {
		t.Fatalf("docker prints {{json .Config}} as\n%s\nhoist as\n%s", got, wantConfig)
	}
}

func dockerAnswers() bool {
	if _, err := exec.LookPath("docker"); err != nil {
		return false
	}
	return exec.Command("timeout", "5", "docker", "info").Run() == nil
}
