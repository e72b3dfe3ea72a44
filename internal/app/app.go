package app

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
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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
	// PeerCheck is how often the peer region's epoch is looked at (1s).
	PeerCheck time.Duration
	// PeerTimeout bounds the peer look-up; an unreachable peer is skipped.
	PeerTimeout time.Duration
}

// Service is the orders service of one region.
type Service struct {
	cfg  Config
	own  *region.Clients
	ctl  *control.Store
	peer *control.Store // nil when no peer is configured

	mu        sync.Mutex
	peerEpoch int64
	peerAt    time.Time
}

// New builds the service. peer may be nil.
func New(cfg Config, own, peer *region.Clients) *Service {
	if cfg.PeerCheck == 0 {
		cfg.PeerCheck = time.Second
	}
	if cfg.PeerTimeout == 0 {
		cfg.PeerTimeout = 300 * time.Millisecond
	}
	s := &Service{cfg: cfg, own: own, ctl: control.New(own, cfg.Names)}
	if peer != nil {
		s.peer = control.New(peer, cfg.Names)
	}
	return s
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

// writable reports whether the region may accept writes, with the active
// region to send the client to; epoch is the epoch writes are accepted at.
func (s *Service) writable(ctx context.Context) (epoch int64, active string, err error) {
	a, err := s.ctl.Active(ctx)
	if err != nil {
		return 0, "", err
	}
	if a.Region != s.ctl.Region {
		return 0, a.Region, nil
	}
	if pe, peerActive := s.highestPeerEpoch(ctx); pe > a.Epoch {
		return 0, peerActive, nil
	}
	return a.Epoch, a.Region, nil
}

// highestPeerEpoch returns the highest epoch seen in the peer region, looked up at
// most every PeerCheck; an unreachable peer keeps the last value.
func (s *Service) highestPeerEpoch(ctx context.Context) (int64, string) {
	if s.peer == nil {
		return 0, ""
	}
	s.mu.Lock()
	fresh := time.Since(s.peerAt) < s.cfg.PeerCheck
	e := s.peerEpoch
	s.mu.Unlock()
	if fresh {
		return e, s.peer.Region
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.PeerTimeout)
	defer cancel()
	a, err := s.peer.Active(pctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peerAt = time.Now()
	if err == nil && a.Epoch > s.peerEpoch {
		s.peerEpoch = a.Epoch
	}
	return s.peerEpoch, a.Region
}

func (s *Service) create(ctx context.Context, body string) events.LambdaFunctionURLResponse {
	o, err := ParseOrder(body)
	if err != nil {
		return problem(http.StatusBadRequest, err.Error())
	}
	epoch, active, err := s.writable(ctx)
	if err != nil {
		return problem(http.StatusServiceUnavailable, "control table unreachable: "+err.Error())
	}
	if epoch == 0 {
		return reply(http.StatusServiceUnavailable, map[string]string{"error": "region " + s.own.Name + " is not active", "active_region": active},
			map[string]string{HeaderActiveRegion: active})
	}
	o.Region, o.Epoch, o.CreatedAt = s.own.Name, epoch, time.Now().UTC()
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
		"epoch":             &types.AttributeValueMemberN{Value: strconv.FormatInt(epoch, 10)},
		"created_at":        &types.AttributeValueMemberS{Value: o.CreatedAt.Format(time.RFC3339Nano)},
	}
	if o.Note != "" {
		item["note"] = &types.AttributeValueMemberS{Value: o.Note}
	}
	_, err = s.own.DynamoDB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		s.ctl.ActiveCondition(epoch),
		{Put: &types.Put{TableName: aws.String(s.cfg.Names.Table()), Item: item}},
	}})
	if err != nil {
		var tce *types.TransactionCanceledException
		if errors.As(err, &tce) && len(tce.CancellationReasons) > 0 && aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
			a, _ := s.ctl.Active(ctx)
			return reply(http.StatusServiceUnavailable, map[string]string{"error": "region " + s.own.Name + " was fenced", "active_region": a.Region},
				map[string]string{HeaderActiveRegion: a.Region})
		}
		return problem(http.StatusServiceUnavailable, "store order: "+err.Error())
	}
	return reply(http.StatusCreated, o, map[string]string{HeaderRegion: o.Region, HeaderEpoch: strconv.FormatInt(epoch, 10)})
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
	a, err := s.ctl.Active(ctx)
	switch {
	case err != nil:
		h.Reason = "control table: " + err.Error()
	default:
		h.Active, h.Epoch = a.Region, a.Epoch
		if s.cfg.Role == RolePrimary && a.Region != s.own.Name {
			h.Reason = "not the active region (" + a.Region + " is, at epoch " + strconv.FormatInt(a.Epoch, 10) + ")"
			break
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
