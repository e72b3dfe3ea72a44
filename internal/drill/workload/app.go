package workload

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/guard"
	"github.com/pilotlight/pilotlight/internal/backup"
	"github.com/pilotlight/pilotlight/internal/validate/digest"
)

// The attributes a drill adds to each item it writes to a protected
// application's table: which region acknowledged it, at what epoch (0:
// unguarded) and when its lease was checked (unguarded: when it was sent).
// The split-brain check reads them back, as it reads the orders service's.
const (
	StampRegion = "pilotlight_drill_region"
	StampEpoch  = "pilotlight_drill_epoch"
	StampAt     = "pilotlight_drill_at"
)

// Template is the item a drill writes to a protected application's table:
// DynamoDB JSON in which {{id}} stands for the write's id and {{n}} for its
// number, e.g. {"user":{"S":"{{id}}"},"line":{"N":"{{n}}"},"sku":{"S":"drill"}}.
// Each write is a new item: the key holds a placeholder.
type Template struct {
	raw  string
	keys []string
}

// KeyAttr is one attribute of a table's key.
type KeyAttr struct {
	Name string
	Type string // S, N or B
}

// DefaultTemplate is the item of a table's key alone: a string key
// attribute gets the write's id, a number its number. A binary key has no
// default: the error says to give a template.
func DefaultTemplate(keys []KeyAttr) (string, error) {
	var parts []string
	for _, k := range keys {
		switch k.Type {
		case "S":
			parts = append(parts, strconv.Quote(k.Name)+`:{"S":"{{id}}"}`)
		case "N":
			parts = append(parts, strconv.Quote(k.Name)+`:{"N":"{{n}}"}`)
		default:
			return "", fmt.Errorf("key attribute %s is of type %s: give the item with --app-item (DynamoDB JSON, {{id}} and {{n}} stand for each write's id and number)", k.Name, k.Type)
		}
	}
	return "{" + strings.Join(parts, ",") + "}", nil
}

// ParseTemplate checks an item template against the table's key: every
// key attribute present with its type, a placeholder in the key (or every
// write would overwrite one item), none of the drill's own attributes.
func ParseTemplate(raw string, keys []KeyAttr) (*Template, error) {
	if len(keys) == 0 {
		return nil, errors.New("item template: the table's key is unknown")
	}
	t := &Template{raw: raw}
	it, err := t.Item("id-1", 1)
	if err != nil {
		return nil, err
	}
	other, err := t.Item("id-2", 2)
	if err != nil {
		return nil, err
	}
	for _, a := range []string{StampRegion, StampEpoch, StampAt} {
		if _, ok := it[a]; ok {
			return nil, fmt.Errorf("item template: %s is the drill's own attribute: leave it out", a)
		}
	}
	varies := false
	for _, k := range keys {
		v, ok := it[k.Name]
		if !ok {
			return nil, fmt.Errorf("item template: key attribute %s is missing: add it, with {{id}} or {{n}} in it", k.Name)
		}
		if got := typeOf(v); got != k.Type {
			return nil, fmt.Errorf("item template: key attribute %s is of type %s in the template, %s in the table", k.Name, got, k.Type)
		}
		if canonical(map[string]types.AttributeValue{k.Name: v}) != canonical(map[string]types.AttributeValue{k.Name: other[k.Name]}) {
			varies = true
		}
		t.keys = append(t.keys, k.Name)
	}
	if !varies {
		return nil, errors.New("item template: the key holds no {{id}} or {{n}}, so every write would overwrite one item: put one in a key attribute")
	}
	return t, nil
}

func typeOf(v types.AttributeValue) string {
	switch v.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	}
	return "another type"
}

// Item is the template filled in for one write.
func (t *Template) Item(id string, n int64) (map[string]types.AttributeValue, error) {
	r := strings.NewReplacer("{{id}}", jsonEscape(id), "{{n}}", strconv.FormatInt(n, 10))
	it, err := backup.ParseItemJSON([]byte(r.Replace(t.raw)))
	if err != nil {
		return nil, fmt.Errorf("item template: %w", err)
	}
	return it, nil
}

func canonical(it map[string]types.AttributeValue) string {
	return string(digest.AppendCanonical(nil, it))
}

// jsonEscape escapes s for a JSON string's inside.
func jsonEscape(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// Key is the key of the item written as id.
func (t *Template) Key(id string) (map[string]types.AttributeValue, error) {
	n, err := writeNumber(id)
	if err != nil {
		return nil, err
	}
	it, err := t.Item(id, n)
	if err != nil {
		return nil, err
	}
	key := make(map[string]types.AttributeValue, len(t.keys))
	for _, k := range t.keys {
		key[k] = it[k]
	}
	return key, nil
}

// writeNumber is the number a write's id ends with (RunID-n).
func writeNumber(id string) (int64, error) {
	i := strings.LastIndexByte(id, '-')
	n, err := strconv.ParseInt(id[i+1:], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("write id %q does not end with its number", id)
	}
	return n, nil
}

// App writes a protected application's items straight to its table in the
// region clients are routed to, as the application's own code would:
// through the guard package (the epoch-guard tier) or not (routing only).
// A write a region refuses naming another as active is sent there at once
// (once), as a client following the answer would.
type App struct {
	Table string
	Item  *Template
	DB    map[string]*dynamodb.Client // by region
	// Guards fence each region's writes; nil: routing only, plain writes.
	Guards map[string]*guard.Guard
	Route  func() string // the region clients are sent to now
	Now    func() time.Time
}

// Write makes one write; it is Workload.Do.
func (a *App) Write(ctx context.Context, id string, n int64) Write {
	wr := Write{ID: id, Sent: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	r := a.Route()
	active, err := a.writeIn(ctx, r, id, n, &wr)
	var f *guard.Fenced
	if errors.As(err, &f) && active != "" && active != r && a.DB[active] != nil {
		_, err = a.writeIn(ctx, active, id, n, &wr)
	}
	wr.Done = time.Now()
	switch {
	case errors.As(err, &f):
		wr.Status, wr.Error = http.StatusServiceUnavailable, f.Error()
	case err != nil:
		wr.Error = err.Error()
	default:
		wr.Status = http.StatusCreated
	}
	return wr
}

// writeIn writes the item in region r; on a refusal it returns the region
// the refusal names as active.
func (a *App) writeIn(ctx context.Context, r, id string, n int64, wr *Write) (string, error) {
	db := a.DB[r]
	if db == nil {
		return "", fmt.Errorf("no client for region %q", r)
	}
	it, err := a.Item.Item(id, n)
	if err != nil {
		return "", err
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	stamp := func(epoch int64, at time.Time) {
		it[StampRegion] = &types.AttributeValueMemberS{Value: r}
		it[StampEpoch] = &types.AttributeValueMemberN{Value: strconv.FormatInt(epoch, 10)}
		it[StampAt] = &types.AttributeValueMemberS{Value: at.UTC().Format(time.RFC3339Nano)}
		wr.Region, wr.Epoch, wr.CreatedAt = r, epoch, at.UTC()
	}
	g := a.Guards[r]
	if a.Guards == nil {
		stamp(0, now())
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(a.Table), Item: it})
		return "", err
	}
	if g == nil {
		return "", fmt.Errorf("no guard for region %q", r)
	}
	p, err := g.Check(ctx)
	var f *guard.Fenced
	if errors.As(err, &f) {
		return f.Active, err
	}
	if err != nil {
		return "", err
	}
	stamp(p.Epoch, p.Checked)
	err = g.Write(ctx, p, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(a.Table), Item: it}})
	if errors.As(err, &f) {
		return f.Active, err
	}
	return "", err
}

// Lookup reads the items of ids a region's table holds: who acknowledged
// each, at what epoch and when.
func (a *App) Lookup(ctx context.Context, db *dynamodb.Client, ids []string) (map[string]Order, error) {
	out := map[string]Order{}
	err := a.batchGet(ctx, db, ids, func(id string, it map[string]types.AttributeValue) {
		out[id] = readOrder(it, StampRegion, StampEpoch, StampAt)
	})
	return out, err
}

// Missing returns the ids whose item a region's table does not hold.
func (a *App) Missing(ctx context.Context, db *dynamodb.Client, ids []string) ([]string, error) {
	have := map[string]bool{}
	if err := a.batchGet(ctx, db, ids, func(id string, _ map[string]types.AttributeValue) { have[id] = true }); err != nil {
		return nil, err
	}
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// batchGet reads the items of ids and calls f with each found.
func (a *App) batchGet(ctx context.Context, db *dynamodb.Client, ids []string, f func(id string, it map[string]types.AttributeValue)) error {
	byKey := map[string]string{}
	keys := make([]map[string]types.AttributeValue, 0, len(ids))
	for _, id := range ids {
		k, err := a.Item.Key(id)
		if err != nil {
			return err
		}
		byKey[canonical(k)] = id
		keys = append(keys, k)
	}
	return batchGet(ctx, db, a.Table, a.Table, keys, types.KeysAndAttributes{}, func(it map[string]types.AttributeValue) {
		k := make(map[string]types.AttributeValue, len(a.Item.keys))
		for _, name := range a.Item.keys {
			k[name] = it[name]
		}
		if id, ok := byKey[canonical(k)]; ok {
			f(id, it)
		}
	})
}
