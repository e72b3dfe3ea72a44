package orders

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pilotlight/pilotlight/guard"
	"github.com/pilotlight/pilotlight/internal/control"
	"github.com/pilotlight/pilotlight/internal/region"
)

// Role is the routing record a region's /health answers for.
type Role string

const (
	// RolePrimary: the region behind the primary failover record. Healthy
	// only while it is the active region, so routing never fails back on its
	// own: failback is a planned operation.
	RolePrimary Role = "primary"
	// RoleSecondary: the region behind the secondary record. Healthy while
	// its infrastructure is, so routing can move traffic there as soon as the
	// primary fails; writes wait for promotion (503 until then).
	RoleSecondary Role = "secondary"
)

// Header names.
const (
	HeaderActiveRegion = "X-Pilotlight-Active-Region"
	HeaderRegion       = "X-Pilotlight-Region"
	HeaderEpoch        = "X-Pilotlight-Epoch"
)

// Config configures the service in one region.
type Config struct {
	Role  Role
	Names region.Names
	// Lease is the write lease's arithmetic (control.LabLease in the lab,
	// control.AWSLease on AWS): a write is acknowledged only while
	// now + Delta + Epsilon < lease_until, and is given Delta to finish.
	Lease control.LeaseConfig
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// HealthOnly serves GET /health and nothing else: Route 53's health-only
	// URL (AuthType NONE), which must give no data away.
	HealthOnly bool
}

// Service is the orders service of one region.
//
// Invariant (no split brain): it acknowledges a write only if, read in one
// strongly consistent transaction from its own region's control table, its
// active record names it the holder with no hold and its lease at that epoch
// is valid beyond now + δ + ε; the write must then finish within δ, and its
// transaction still checks the record's epoch. It reads nothing in another
// region, so a partition cannot make it fail open.
type Service struct {
	cfg   Config
	own   *region.Clients
	ctl   *control.Store
	guard *guard.Guard
}

// New builds the service for the region own.
func New(cfg Config, own *region.Clients) *Service {
	if cfg.Lease.Term == 0 {
		cfg.Lease = control.AWSLease
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g, err := guard.New(guard.Config{Region: own.Name, ControlTable: cfg.Names.ControlTable(), DynamoDB: own.DynamoDB, Lease: guard.Lease(cfg.Lease), Now: cfg.Now})
	if err != nil {
		panic(err) // every field is set above
	}
	return &Service{cfg: cfg, own: own, ctl: control.New(own, cfg.Names), guard: g}
}

// Order is what POST /orders accepts and GET /orders/{id} returns.
type Order struct {
	ID       string  `json:"id"`
	Customer string  `json:"customer"`
	Amount   float64 `json:"amount"`
	Note     string  `json:"note,omitempty"`
	// Set by the service:
	Region    string    `json:"region,omitempty"`
	Epoch     int64     `json:"epoch,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Handle serves one function-URL request.
func (s *Service) Handle(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	method := req.RequestContext.HTTP.Method
	path := req.RawPath
	if s.cfg.HealthOnly && (path != "/health" || method != http.MethodGet) {
		// Route 53's URL (AuthType NONE): the verdict, never data.
		return problem(http.StatusNotFound, "this URL serves only GET /health"), nil
	}
	switch {
	case path == "/health" && method == http.MethodGet:
		return s.health(ctx), nil
	case path == "/orders" && method == http.MethodPost:
		body := req.Body
		if req.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(body)
			if err != nil {
				return problem(http.StatusBadRequest, "body is not valid base64"), nil
			}
			body = string(b)
		}
		return s.create(ctx, body), nil
	case strings.HasPrefix(path, "/orders/") && method == http.MethodGet:
		return s.get(ctx, strings.TrimPrefix(path, "/orders/")), nil
	case path == "/health" || path == "/orders" || strings.HasPrefix(path, "/orders/"):
		return problem(http.StatusMethodNotAllowed, method+" is not allowed on "+path), nil
	}
	return problem(http.StatusNotFound, "no route "+path+": use POST /orders, GET /orders/{id} or GET /health"), nil
}

func problem(code int, msg string) events.LambdaFunctionURLResponse {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return events.LambdaFunctionURLResponse{StatusCode: code, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(b)}
}

func reply(code int, v any, headers map[string]string) events.LambdaFunctionURLResponse {
	b, _ := json.Marshal(v)
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range headers {
		h[k] = v
	}
	return events.LambdaFunctionURLResponse{StatusCode: code, Headers: h, Body: string(b)}
}

// ParseOrder validates a POST /orders body.
func ParseOrder(body string) (Order, error) {
	var o Order
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return o, fmt.Errorf("body is not an order: %v (send {\"id\": \"…\", \"customer\": \"…\", \"amount\": 12.5})", err)
	}
	if dec.More() {
		return o, errors.New("body has data after the order object")
	}
	if o.ID == "" {
		o.ID = newID()
	}
	if len(o.ID) > 128 || strings.ContainsAny(o.ID, "/#?% \t\n") {
		return o, errors.New("id must be at most 128 characters without '/', '#', '?', '%' or spaces")
	}
	if o.Customer == "" {
		return o, errors.New("customer is required")
	}
	if o.Amount < 0 || o.Amount > 1e9 {
		return o, errors.New("amount must be between 0 and 1e9")
	}
	if len(o.Note) > 4096 {
		return o, errors.New("note must be at most 4096 bytes")
	}
	return o, nil
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Service) create(ctx context.Context, body string) events.LambdaFunctionURLResponse {
	o, err := ParseOrder(body)
	if err != nil {
		return problem(http.StatusBadRequest, err.Error())
	}
	// The orders service writes through the guard package, as an
	// application protected at the epoch-guard tier does.
	p, err := s.guard.Check(ctx)
	if err != nil {
		return s.fenced(err)
	}
	// The write is applied within δ of the lease check or never: the lease
	// arithmetic counts on it.
	ctx, cancel := p.WithDeadline(ctx)
	defer cancel()
	o.Region, o.Epoch, o.CreatedAt = s.own.Name, p.Epoch, p.Checked.UTC()
	attachment, _ := json.Marshal(o)
	// The attachment first: the order item is the commit point, so an
	// acknowledged order always has its attachment.
	if _, err := s.own.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.cfg.Names.Bucket(s.own.Name)), Key: aws.String(AttachmentKey(o.ID)),
		Body: strings.NewReader(string(attachment)), ContentType: aws.String("application/json"),
	}); err != nil {
		return problem(http.StatusServiceUnavailable, "store attachment: "+err.Error())
	}
	item := map[string]types.AttributeValue{
		region.TableHashKey: &types.AttributeValueMemberS{Value: ItemKey(o.ID)},
		"customer":          &types.AttributeValueMemberS{Value: o.Customer},
		"amount":            &types.AttributeValueMemberN{Value: strconv.FormatFloat(o.Amount, 'f', -1, 64)},
		"region":            &types.AttributeValueMemberS{Value: o.Region},
		"epoch":             &types.AttributeValueMemberN{Value: strconv.FormatInt(p.Epoch, 10)},
		"created_at":        &types.AttributeValueMemberS{Value: o.CreatedAt.Format(time.RFC3339Nano)},
	}
	if o.Note != "" {
		item["note"] = &types.AttributeValueMemberS{Value: o.Note}
	}
	err = s.guard.Write(ctx, p, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.cfg.Names.Table()), Item: item}})
	var f *guard.Fenced
	if errors.As(err, &f) {
		// Refused for certain: the attachment is an orphan. (After a
		// timeout the order may have committed; its attachment stays.)
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_, _ = s.own.S3.DeleteObject(dctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Names.Bucket(s.own.Name)), Key: aws.String(AttachmentKey(o.ID))})
		dcancel()
		return s.fenced(err)
	}
	if err != nil {
		return problem(http.StatusServiceUnavailable, "store order: "+err.Error())
	}
	return reply(http.StatusCreated, o, map[string]string{HeaderRegion: o.Region, HeaderEpoch: strconv.FormatInt(p.Epoch, 10)})
}

// fenced answers a write the guard refused: 503 naming the region the
// control record says holds the lease, so a client can go there at once
// instead of waiting for routing.
func (s *Service) fenced(err error) events.LambdaFunctionURLResponse {
	var f *guard.Fenced
	if !errors.As(err, &f) {
		return problem(http.StatusServiceUnavailable, err.Error())
	}
	if f.Unreachable {
		return problem(http.StatusServiceUnavailable, f.Reason)
	}
	return reply(http.StatusServiceUnavailable, map[string]string{"error": f.Error(), "active_region": f.Active},
		map[string]string{HeaderActiveRegion: f.Active, HeaderRegion: s.own.Name})
}

// ItemKey is the table key of an order.
func ItemKey(id string) string { return "order#" + id }

// AttachmentKey is the bucket key of an order's attachment.
func AttachmentKey(id string) string { return "orders/" + id + ".json" }

func (s *Service) get(ctx context.Context, id string) events.LambdaFunctionURLResponse {
	if id == "" || strings.Contains(id, "/") {
		return problem(http.StatusBadRequest, "give an order id: GET /orders/{id}")
	}
	out, err := s.own.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.cfg.Names.Table()),
		Key: map[string]types.AttributeValue{region.TableHashKey: &types.AttributeValueMemberS{Value: ItemKey(id)}}})
	if err != nil {
		return problem(http.StatusServiceUnavailable, "read order: "+err.Error())
	}
	if out.Item == nil {
		return problem(http.StatusNotFound, "no order "+id)
	}
	o := Order{ID: id}
	if v, ok := out.Item["customer"].(*types.AttributeValueMemberS); ok {
		o.Customer = v.Value
	}
	if v, ok := out.Item["amount"].(*types.AttributeValueMemberN); ok {
		o.Amount, _ = strconv.ParseFloat(v.Value, 64)
	}
	if v, ok := out.Item["region"].(*types.AttributeValueMemberS); ok {
		o.Region = v.Value
	}
	if v, ok := out.Item["epoch"].(*types.AttributeValueMemberN); ok {
		o.Epoch, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	if v, ok := out.Item["created_at"].(*types.AttributeValueMemberS); ok {
		o.CreatedAt, _ = time.Parse(time.RFC3339Nano, v.Value)
	}
	if v, ok := out.Item["note"].(*types.AttributeValueMemberS); ok {
		o.Note = v.Value
	}
	return reply(http.StatusOK, o, nil)
}

// Health is the /health body.
type Health struct {
	Region  string `json:"region"`
	Role    Role   `json:"role"`
	Healthy bool   `json:"healthy"`
	Active  string `json:"active_region,omitempty"`
	Epoch   int64  `json:"epoch,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func (s *Service) health(ctx context.Context) events.LambdaFunctionURLResponse {
	h := Health{Region: s.own.Name, Role: s.cfg.Role}
	ws, err := s.ctl.WriteState(ctx)
	switch {
	case err != nil:
		h.Reason = "control table: " + err.Error()
	default:
		h.Active, h.Epoch = ws.Active.Region, ws.Active.Epoch
		// The primary record's region is healthy only while it holds a live
		// lease: a region that lost it sends clients away.
		if s.cfg.Role == RolePrimary {
			if why := ws.Holding(s.own.Name, s.cfg.Now()); why != nil {
				h.Reason = why.Error()
				break
			}
		}
		if _, err := s.own.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.cfg.Names.Bucket(s.own.Name))}); err != nil {
			h.Reason = "bucket: " + err.Error()
			break
		}
		h.Healthy = true
	}
	code := http.StatusOK
	if !h.Healthy {
		code = http.StatusServiceUnavailable
	}
	return reply(code, h, nil)
}
