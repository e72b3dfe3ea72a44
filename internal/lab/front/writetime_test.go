package front

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pilotlight/pilotlight/internal/region"
)

type item map[string]dbtypes.AttributeValue

func TestWrittenKeys(t *testing.T) {
	f := &WriteFront{table: "t", keys: []string{"pk"}}
	id := func(v string) string { return KeyID(item{"pk": &dbtypes.AttributeValueMemberS{Value: v}}) }
	tests := []struct {
		name, op, body string
		want           []string
	}{
		{"put", "PutItem", `{"TableName":"t","Item":{"pk":{"S":"a"},"x":{"N":"1"}}}`, []string{id("a")}},
		{"other table", "PutItem", `{"TableName":"u","Item":{"pk":{"S":"a"}}}`, nil},
		{"update", "UpdateItem", `{"TableName":"t","Key":{"pk":{"S":"b"}}}`, []string{id("b")}},
		{"delete", "DeleteItem", `{"TableName":"t","Key":{"pk":{"S":"c"}}}`, []string{id("c")}},
		{"batch", "BatchWriteItem", `{"RequestItems":{"t":[{"PutRequest":{"Item":{"pk":{"S":"d"}}}},{"DeleteRequest":{"Key":{"pk":{"S":"e"}}}}],"u":[{"PutRequest":{"Item":{"pk":{"S":"z"}}}}]}}`, []string{id("d"), id("e")}},
		{"transaction", "TransactWriteItems", `{"TransactItems":[{"ConditionCheck":{"TableName":"t","Key":{"pk":{"S":"no"}}}},{"Put":{"TableName":"t","Item":{"pk":{"S":"f"}}}},{"Update":{"TableName":"t","Key":{"pk":{"S":"g"}}}}]}`, []string{id("f"), id("g")}},
		{"number key", "PutItem", `{"TableName":"t","Item":{"pk":{"N":"7"}}}`, []string{KeyID(item{"pk": &dbtypes.AttributeValueMemberN{Value: "7"}})}},
		{"binary key", "PutItem", `{"TableName":"t","Item":{"pk":{"B":"AQI="}}}`, []string{KeyID(item{"pk": &dbtypes.AttributeValueMemberB{Value: []byte{1, 2}}})}},
		{"no key", "PutItem", `{"TableName":"t","Item":{"x":{"S":"a"}}}`, nil},
		{"not json", "PutItem", `{`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := f.writtenKeys(tc.op, []byte(tc.body))
			if len(got) != len(tc.want) {
				t.Fatalf("keys %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("keys %q, want %q", got, tc.want)
				}
			}
		})
	}
}

// FuzzWrittenKeys: any request body, however malformed, is read without a
// panic, and a PutItem of a string key always yields that key.
func FuzzWrittenKeys(f *testing.F) {
	f.Add("PutItem", `{"TableName":"t","Item":{"pk":{"S":"a"}}}`, "a")
	f.Add("TransactWriteItems", `{"TransactItems":[{"Put":{"TableName":"t","Item":{"pk":{"B":"%%"}}}}]}`, "")
	f.Add("BatchWriteItem", `{"RequestItems":{"t":[{"PutRequest":null}]}}`, "x")
	front := &WriteFront{table: "t", keys: []string{"pk"}}
	f.Fuzz(func(t *testing.T, op, body, key string) {
		front.writtenKeys(op, []byte(body))
		if !utf8.ValidString(key) {
			return // DynamoDB strings are UTF-8
		}
		b, _ := json.Marshal(map[string]any{"TableName": "t", "Item": map[string]any{"pk": map[string]string{"S": key}}})
		got := front.writtenKeys("PutItem", b)
		if want := KeyID(item{"pk": &dbtypes.AttributeValueMemberS{Value: key}}); len(got) != 1 || got[0] != want {
			t.Fatalf("PutItem of %q: keys %q", key, got)
		}
	})
}

// A peer's change applied by the replicator is not a user's write: the key's
// write time stays the user's, however soon after it the replicated write
// lands. Noting the replicator's write made a user's earlier write, whose
// stream record was read after it, win over a peer's later one.
func TestWriteFrontIgnoresTheReplicatorsWrites(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		io.WriteString(w, "{}")
	}))
	defer backend.Close()
	f, err := StartWriteFront(strings.TrimPrefix(backend.URL, "http://"), "t", []string{"pk"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	put := func(agent string) {
		t.Helper()
		spec := region.Spec{Name: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
			Endpoints: map[region.Service]string{region.DynamoDB: "http://" + f.Addr}, MaxAttempts: 1, Local: true, UserAgent: agent}
		c, err := region.New(spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item{"pk": &dbtypes.AttributeValueMemberS{Value: "k"}}}); err != nil {
			t.Fatal(err)
		}
	}
	id := KeyID(item{"pk": &dbtypes.AttributeValueMemberS{Value: "k"}})
	put("pilotlight-app")
	user, ok := f.WriteTime(id)
	if !ok {
		t.Fatal("the user's write was not noted")
	}
	for time.Now().UnixMilli() <= user {
		runtime.Gosched() // the next write must fall in a later millisecond
	}
	put(ReplicatorAgent)
	if got, _ := f.WriteTime(id); got != user {
		t.Fatalf("write time %d after the replicator's write, want the user's %d", got, user)
	}
	put("pilotlight-app")
	if got, _ := f.WriteTime(id); got <= user {
		t.Fatalf("a second user write left the time at %d, want after %d", got, user)
	}
}

// Schedule (issue 18, item 6): a region cut off for more than ten minutes
// returns, and the replicator reads its records late. The front must still
// know when the other region's newer write of the same key was made, or the
// replicator stamps that write with a read time and the older record wins.
// The front forgot every write time after ten minutes (562b95e^: the
// "kept" case fails with that prune); now it keeps them until the
// replicator has read through them.
func TestWriteTimeKeptUntilTheReplicatorReadsThroughIt(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		io.WriteString(w, "{}")
	}))
	defer backend.Close()
	for _, tc := range []struct {
		name        string
		readThrough func(start time.Time) func() time.Time
		kept        bool
	}{
		{"no reader: forgotten after ten minutes", nil, false},
		{"the replicator is behind the write: kept", func(start time.Time) func() time.Time { return func() time.Time { return start.Add(-time.Second) } }, true},
		{"the replicator read past it: forgotten", func(start time.Time) func() time.Time { return func() time.Time { return start.Add(5 * time.Minute) } }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := StartWriteFront(strings.TrimPrefix(backend.URL, "http://"), "t", []string{"pk"})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			start := time.Now()
			var offset atomic.Int64
			f.now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
			if tc.readThrough != nil {
				f.SetReadThrough(tc.readThrough(start))
			}
			c, err := region.New(region.Spec{Name: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
				Endpoints: map[region.Service]string{region.DynamoDB: "http://" + f.Addr}, MaxAttempts: 1, Local: true, UserAgent: "pilotlight-app"})
			if err != nil {
				t.Fatal(err)
			}
			put := func(key string) {
				t.Helper()
				if _, err := c.DynamoDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("t"), Item: item{"pk": &dbtypes.AttributeValueMemberS{Value: key}}}); err != nil {
					t.Fatal(err)
				}
			}
			put("newer")
			id := KeyID(item{"pk": &dbtypes.AttributeValueMemberS{Value: "newer"}})
			if _, ok := f.WriteTime(id); !ok {
				t.Fatal("the write was not noted")
			}
			// Eleven minutes on (the region cut off), another write makes
			// the front prune.
			offset.Store(int64(11 * time.Minute))
			put("other")
			if _, ok := f.WriteTime(id); ok != tc.kept {
				t.Fatalf("write time known after 11 minutes: %v, want %v", ok, tc.kept)
			}
		})
	}
}
