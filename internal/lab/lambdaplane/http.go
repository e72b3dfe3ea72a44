package lambdaplane

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pilotlight/pilotlight/internal/iampolicy"
	"github.com/pilotlight/pilotlight/internal/lab/functions"
)

// Serve serves the plane on ln (127.0.0.1) until Close.
func (p *Plane) Serve(ln net.Listener) {
	p.url = "http://" + ln.Addr().String()
	p.srv = &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
}

// Endpoint is where the plane is served (AWS_ENDPOINT_URL_LAMBDA).
func (p *Plane) Endpoint() string { return p.url }

// apiFunc is one API call's handler: its answer (nil: none), status and
// error (an *apiError is written as AWS writes it).
type apiFunc func(w http.ResponseWriter, r *http.Request) (any, int, error)

// Handler is the plane's API, its code downloads and its function URLs.
func (p *Plane) Handler() http.Handler {
	m := http.NewServeMux()
	api := func(pattern string, h apiFunc) { m.HandleFunc(pattern, p.serveAPI(h)) }
	p.functionRoutes(api)
	p.settingRoutes(api)
	// Code downloads are unsigned, as a presigned S3 URL is.
	m.HandleFunc("GET /_code/{file}", func(w http.ResponseWriter, r *http.Request) {
		b, err := p.Code(strings.TrimSuffix(r.PathValue("file"), ".zip"))
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		w.Write(b)
	})
	m.HandleFunc("/_url/{name}/", p.serveURL)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{400, "InvalidParameterValueException", r.Method + " " + r.URL.Path + ": the lab's Lambda serves functions, their URLs and concurrency, and invocations only"})
	})
	return m
}

// serveAPI checks the caller's key and the region's gate, runs h and
// writes its answer.
func (p *Plane) serveAPI(h apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if key, _ := iampolicy.AccessKey(r); key != p.opts.AccessKey {
			writeError(w, &apiError{403, "UnrecognizedClientException", "The security token included in the request is invalid: sign with the lab's key (eval \"$(pilotlight lab env)\")"})
			return
		}
		if g := p.opts.Gate; g != nil {
			if err := g(r.Context()); err != nil {
				writeError(w, &apiError{503, "ServiceException", err.Error()})
				return
			}
		}
		out, status, err := h(w, r)
		if err == errWritten {
			return
		}
		if err != nil {
			writeError(w, err)
			return
		}
		if out == nil {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(out)
	}
}

// functionRoutes: create, list, read, configure, delete and invoke.
func (p *Plane) functionRoutes(api func(string, apiFunc)) {
	api("POST /2015-03-31/functions", func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		var in CreateInput
		if err := decode(r, &in); err != nil {
			return nil, 0, err
		}
		cfg, err := p.Create(in)
		return cfg, http.StatusCreated, err
	})
	list := func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		return map[string]any{"Functions": orEmpty(p.List())}, http.StatusOK, nil
	}
	// SDKs ask with the trailing slash, AWS CLI v1 without.
	api("GET /2015-03-31/functions/{$}", list)
	api("GET /2015-03-31/functions", list)
	api("GET /2015-03-31/functions/{name}", func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		f, err := p.Get(r.PathValue("name"))
		return f, http.StatusOK, err
	})
	api("GET /2015-03-31/functions/{name}/configuration", func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		f, err := p.Get(r.PathValue("name"))
		return f.Configuration, http.StatusOK, err
	})
	api("PUT /2015-03-31/functions/{name}/configuration", func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		var in UpdateInput
		if err := decode(r, &in); err != nil {
			return nil, 0, err
		}
		cfg, err := p.Update(r.PathValue("name"), in)
		return cfg, http.StatusOK, err
	})
	api("DELETE /2015-03-31/functions/{name}", func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		return nil, http.StatusNoContent, p.Delete(r.PathValue("name"))
	})
	api("POST /2015-03-31/functions/{name}/invocations", p.serveInvoke)
}

// settingRoutes: reserved concurrency, function URLs, event sources and
// tags.
func (p *Plane) settingRoutes(api func(string, apiFunc)) {
	api("PUT /2017-10-31/functions/{name}/concurrency", func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		var in struct {
			ReservedConcurrentExecutions *int32
		}
		if err := decode(r, &in); err != nil {
			return nil, 0, err
		}
		if in.ReservedConcurrentExecutions == nil {
			return nil, 0, invalid("ReservedConcurrentExecutions is required")
		}
		return in, http.StatusOK, p.SetConcurrency(r.PathValue("name"), in.ReservedConcurrentExecutions)
	})
	api("DELETE /2017-10-31/functions/{name}/concurrency", func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		return nil, http.StatusNoContent, p.SetConcurrency(r.PathValue("name"), nil)
	})
	api("GET /2019-09-30/functions/{name}/concurrency", func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		n, err := p.Concurrency(r.PathValue("name"))
		if n == nil {
			return map[string]any{}, http.StatusOK, err
		}
		return map[string]int32{"ReservedConcurrentExecutions": *n}, http.StatusOK, err
	})
	api("POST /2021-10-31/functions/{name}/url", func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		var in struct{ AuthType string }
		if err := decode(r, &in); err != nil {
			return nil, 0, err
		}
		u, err := p.CreateURL(r.PathValue("name"), in.AuthType)
		return u, http.StatusCreated, err
	})
	api("GET /2021-10-31/functions/{name}/url", func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		u, err := p.URL(r.PathValue("name"))
		return u, http.StatusOK, err
	})
	api("DELETE /2021-10-31/functions/{name}/url", func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		return nil, http.StatusNoContent, p.DeleteURL(r.PathValue("name"))
	})
	mappings := func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		// The lab's functions have no event sources: they are invoked and
		// reached by URL.
		if n := r.URL.Query().Get("FunctionName"); n != "" {
			if _, err := p.Get(n); err != nil {
				return nil, 0, err
			}
		}
		return map[string]any{"EventSourceMappings": []any{}}, http.StatusOK, nil
	}
	api("GET /2015-03-31/event-source-mappings/{$}", mappings)
	api("GET /2015-03-31/event-source-mappings", mappings)
	api("GET /2017-03-31/tags/{arn}", func(w http.ResponseWriter, r *http.Request) (any, int, error) {
		t, err := p.Tags(r.PathValue("arn"))
		if t == nil {
			t = map[string]string{}
		}
		return map[string]any{"Tags": t}, http.StatusOK, err
	})
}

func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 80<<20))
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return invalid("the request is not the JSON this call takes: %v", err)
	}
	return nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{500, "ServiceException", err.Error()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", ae.Type)
	w.WriteHeader(ae.Status)
	json.NewEncoder(w).Encode(map[string]string{"Type": "User", "Message": ae.Msg, "message": ae.Msg})
}

// serveInvoke is Invoke: the payload in, the function's answer out, its
// own error flagged by X-Amz-Function-Error.
func (p *Plane) serveInvoke(w http.ResponseWriter, r *http.Request) (any, int, error) {
	payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
	if err != nil {
		return nil, 0, err
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	switch r.Header.Get("X-Amz-Invocation-Type") {
	case "DryRun":
		_, err := p.Get(r.PathValue("name"))
		return nil, http.StatusNoContent, err
	case "Event":
		name := r.PathValue("name")
		if _, err := p.Get(name); err != nil {
			return nil, 0, err
		}
		go p.Invoke(context.WithoutCancel(r.Context()), name, payload)
		return nil, http.StatusAccepted, nil
	}
	body, err := p.Invoke(r.Context(), r.PathValue("name"), payload)
	var fe *functions.Error
	if errors.As(err, &fe) {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
	} else if err != nil {
		return nil, 0, err
	}
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
	return nil, 0, errWritten
}

// errWritten says the handler wrote its own answer.
var errWritten = errors.New("written")

// serveURL is a function URL: the HTTP request becomes the payload-2.0
// event Lambda gives a function URL, and its answer the response.
func (p *Plane) serveURL(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	u, err := p.URL(name)
	if err != nil {
		http.Error(w, `{"Message":null}`, http.StatusForbidden)
		return
	}
	if u.AuthType == "AWS_IAM" {
		if key, _ := iampolicy.AccessKey(r); key != p.opts.AccessKey {
			w.Header().Set("X-Amzn-Errortype", "AccessDeniedException")
			http.Error(w, `{"Message":"Forbidden"}`, http.StatusForbidden)
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ev := urlEvent(r, strings.TrimPrefix(r.URL.Path, "/_url/"+name), body)
	payload, _ := json.Marshal(ev)
	out, err := p.Invoke(r.Context(), name, payload)
	var fe *functions.Error
	var ae *apiError
	switch {
	case errors.As(err, &fe):
		http.Error(w, `{"Message":"Internal Server Error"}`, http.StatusBadGateway)
		return
	case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
		http.Error(w, `{"Message":"Rate Exceeded."}`, http.StatusTooManyRequests)
		return
	case err != nil:
		http.Error(w, `{"Message":"Service Unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	writeURLResponse(w, out)
}

func urlEvent(r *http.Request, path string, body []byte) events.LambdaFunctionURLRequest {
	if path == "" {
		path = "/"
	}
	headers := map[string]string{}
	for k, v := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ",")
	}
	query := map[string]string{}
	for k, v := range r.URL.Query() {
		query[k] = strings.Join(v, ",")
	}
	ev := events.LambdaFunctionURLRequest{Version: "2.0", RawPath: path, RawQueryString: r.URL.RawQuery, Headers: headers, QueryStringParameters: query,
		RequestContext: events.LambdaFunctionURLRequestContext{RequestID: fmt.Sprint(time.Now().UnixNano()), DomainName: r.Host, TimeEpoch: time.Now().UnixMilli(),
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: r.Method, Path: path, Protocol: r.Proto, SourceIP: host(r.RemoteAddr), UserAgent: r.UserAgent()}}}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return ev
}

func host(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

// writeURLResponse writes a function's answer as Lambda does for a URL: a
// response object as itself, anything else as a 200 JSON body.
func writeURLResponse(w http.ResponseWriter, out []byte) {
	var resp events.LambdaFunctionURLResponse
	var probe map[string]json.RawMessage
	if json.Unmarshal(out, &probe) != nil || probe["statusCode"] == nil || json.Unmarshal(out, &resp) != nil {
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}
