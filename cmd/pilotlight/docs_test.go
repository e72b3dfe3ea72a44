package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// docs/architecture.md's package map names every package `go list` finds,
// so a package added without its row (what it owns) fails here.
func TestArchitectureMapsEveryPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(p, "github.com/pilotlight/pilotlight/")
		if rel == p {
			continue
		}
		n++
		if !strings.Contains(string(doc), "`"+rel+"`") {
			t.Errorf("docs/architecture.md's package map does not name %s: add its row (what it owns)", rel)
		}
	}
	if n < 20 {
		t.Fatalf("go list found %d packages: the test is not reading the module", n)
	}
}

// The readers of a drill's report and the dashboard link no AWS SDK
// service: they read plain data (control/record, timeline,
// validate/verdict), so a report tool or a page server stays small, and an
// import that would pull the SDK back in fails here.
func TestReportReadersLinkNoAWSSDK(t *testing.T) {
	for _, pkg := range []string{"../../internal/drill/report", "../../internal/dashboard", "../../internal/control/record", "../../internal/timeline", "../../internal/validate/verdict"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 3 {
			t.Fatalf("go list -deps %s found %d packages: the test is not reading the module", pkg, len(deps))
		}
		for _, d := range deps {
			if strings.HasPrefix(d, "github.com/aws/aws-sdk-go-v2/service/") {
				t.Errorf("%s links %s: take the plain data it needs from a package that imports no SDK", strings.TrimPrefix(pkg, "../../"), d)
			}
		}
	}
}

// No function is longer than 100 lines, but the controller's phase machine
// (failover.Controller.Run, read top to bottom as the phases run): a longer
// one is cut at the seams it has.
func TestNoFunctionOver100Lines(t *testing.T) {
	eachGoFile(t, false, func(fset *token.FileSet, p string, f *ast.File) {
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			lines := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
			exempt := fd.Name.Name == "Run" && filepath.ToSlash(p) == "../../internal/failover/failover.go"
			if lines > 100 && !exempt {
				t.Errorf("%s: %s is %d lines: cut it at its seams (100 at most)", fset.Position(fd.Pos()), fd.Name.Name, lines)
			}
		}
	})
}

// eachGoFile parses every Go file of the module (test files too, with
// tests; testdata never) and calls f with each; it fails t when it read
// too few files to be reading the module.
func eachGoFile(t *testing.T, tests bool, f func(fset *token.FileSet, path string, file *ast.File)) {
	t.Helper()
	fset := token.NewFileSet()
	n := 0
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(p, ".go") || (!tests && strings.HasSuffix(p, "_test.go")):
			return nil
		}
		file, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		n++
		f(fset, p, file)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Fatalf("read %d Go files: the test is not reading the module", n)
	}
}

// No package under internal/ holds more than 1,500 lines of non-test Go:
// a larger one is doing two jobs, and is cut where its struct holds both
// (the drill's harness and its scenarios; the lab and what it composes).
// The CLI (one command per file) is not held to it.
func TestPackageSize(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}|{{join .GoFiles \",\"}}", "../../internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, files, _ := strings.Cut(line, "|")
		lines := 0
		for _, f := range strings.Split(files, ",") {
			if f == "" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			lines += strings.Count(string(b), "\n")
		}
		n++
		if lines > 1500 {
			t.Errorf("%s holds %d lines of non-test Go (1,500 at most): cut it where it does two jobs", dir, lines)
		}
	}
	if n < 20 {
		t.Fatalf("go list found %d packages: the test is not reading the module", n)
	}
}

// No type alias anywhere, tests included: a type has one name, and a
// package that re-exports another's under its own makes a reader learn
// both. (Aliases left by moves were removed: lab.Fault, lab.FaultKind.)
func TestNoTypeAliases(t *testing.T) {
	eachGoFile(t, true, func(fset *token.FileSet, _ string, f *ast.File) {
		ast.Inspect(f, func(node ast.Node) bool {
			if ts, ok := node.(*ast.TypeSpec); ok && ts.Assign.IsValid() {
				t.Errorf("%s: type %s is an alias: use the type's own name", fset.Position(ts.Pos()), ts.Name.Name)
			}
			return true
		})
	})
}
