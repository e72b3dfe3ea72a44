package lab

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/pilotlight/pilotlight/internal/lab/faults"
	"github.com/pilotlight/pilotlight/internal/lab/server"
	"github.com/pilotlight/pilotlight/internal/region"
)

// A free port the lab chose can be taken before its fault proxy listens on
// it (a client's ephemeral port, in another process): the proxy moves to
// another, as every region's proxies do, the witness's included. (The
// witness's proxy did not: a fresh-clone CI run failed to start a lab
// with "port 46311 on 127.0.0.1 is in use".) A port the user configured
// is theirs to free: that one is refused, naming it.
func TestAProxyWhosePortWasTakenMovesToAnother(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	taken := held.Addr().(*net.TCPAddr).Port

	l := &Lab{inj: faults.New(slog.New(slog.DiscardHandler))}
	defer l.inj.Close()
	l.inj.Region("us-east-2", true)
	port := taken
	if err := l.proxy("us-east-2", region.DynamoDB, &port, "127.0.0.1:1"); err != nil {
		t.Fatalf("the witness's proxy on a taken free port: %v", err)
	}
	if port == taken {
		t.Fatalf("the proxy kept the taken port %d", taken)
	}
	if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err != nil {
		t.Errorf("nothing listens on the proxy's new port %d: %v", port, err)
	} else {
		c.Close()
	}

	l.opts.BasePort = 40000 // a configured port: not moved
	l.inj.Region("us-west-2", false)
	port = taken
	var inUse *server.PortInUseError
	if err := l.proxy("us-west-2", region.DynamoDB, &port, "127.0.0.1:1"); !errors.As(err, &inUse) || inUse.Port != taken {
		t.Fatalf("a configured port that is taken: %v, want it named (%d)", err, taken)
	}
}

// Every fault proxy the lab puts up goes through proxy, so each moves off
// a taken port: the injector's Proxy is called nowhere else in the
// package. (startRegion called it directly for the witness.)
func TestEveryFaultProxyGoesThroughProxy(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					sel, ok := n.(*ast.SelectorExpr)
					if !ok || sel.Sel.Name != "Proxy" {
						return true
					}
					if inner, ok := sel.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "inj" {
						calls++
						if fd.Name.Name != "proxy" {
							t.Errorf("%s calls the injector's Proxy directly (%s): go through l.proxy, which moves off a taken port", fd.Name.Name, fset.Position(sel.Pos()))
						}
					}
					return true
				})
			}
		}
	}
	if calls == 0 {
		t.Fatal("found no call of the injector's Proxy: the test is not reading the package")
	}
}
