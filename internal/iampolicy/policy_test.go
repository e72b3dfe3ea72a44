package iampolicy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const appPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Orders", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
     "Resource": ["arn:aws:dynamodb:us-east-1:000000000000:table/app-orders"]},
    {"Sid": "Attachments", "Effect": "Allow", "Action": "s3:*Object",
     "Resource": "arn:aws:s3:::app-data-000000000000-us-east-1/orders/*"},
    {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:DeleteObject",
     "Resource": "arn:aws:s3:::app-data-000000000000-us-east-1/orders/keep-*"},
    {"Sid": "URL", "Effect": "Allow", "Action": "lambda:InvokeFunctionUrl", "Resource": "*",
     "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}},
    {"Sid": "Invoke", "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*",
     "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": true}}}
  ]
}`

func TestEvaluate(t *testing.T) {
	p, err := Parse([]byte(appPolicy))
	if err != nil {
		t.Fatal(err)
	}
	w := Where{Region: "us-east-1", Account: "000000000000"}
	tests := []struct {
		name string
		req  Request
		want Decision
	}{
		{"allowed action", Request{Action: "dynamodb:PutItem", Resource: w.tableARN("app-orders")}, Allow},
		{"action names are case-insensitive", Request{Action: "DynamoDB:putitem", Resource: w.tableARN("app-orders")}, Allow},
		{"another action", Request{Action: "dynamodb:DeleteItem", Resource: w.tableARN("app-orders")}, ImplicitDeny},
		{"another table", Request{Action: "dynamodb:PutItem", Resource: w.tableARN("app-control")}, ImplicitDeny},
		{"resources are case-sensitive", Request{Action: "dynamodb:PutItem", Resource: w.tableARN("App-orders")}, ImplicitDeny},
		{"wildcard action", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::app-data-000000000000-us-east-1/orders/1"}, Allow},
		{"wildcard resource stops at its prefix", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::app-data-000000000000-us-east-1/other"}, ImplicitDeny},
		{"deny wins", Request{Action: "s3:DeleteObject", Resource: "arn:aws:s3:::app-data-000000000000-us-east-1/orders/keep-1"}, ExplicitDeny},
		{"condition met", Request{Action: "lambda:InvokeFunctionUrl", Resource: "x", Context: map[string]string{"lambda:functionurlauthtype": "AWS_IAM"}}, Allow},
		{"condition key missing", Request{Action: "lambda:InvokeFunctionUrl", Resource: "x"}, ImplicitDeny},
		{"bool condition", Request{Action: "lambda:InvokeFunction", Resource: "x", Context: map[string]string{"lambda:InvokedViaFunctionUrl": "true"}}, Allow},
		{"bool condition false", Request{Action: "lambda:InvokeFunction", Resource: "x", Context: map[string]string{"lambda:InvokedViaFunctionUrl": "false"}}, ImplicitDeny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Evaluate([]Policy{p}, tc.req); got != tc.want {
				t.Fatalf("%s on %s: %v, want %v", tc.req.Action, tc.req.Resource, got, tc.want)
			}
		})
	}
}

func TestConditionOperators(t *testing.T) {
	ctx := map[string]string{"k": "abc"}
	tests := []struct {
		op, key string
		values  List
		want    bool
	}{
		{"StringEquals", "k", List{"x", "abc"}, true},
		{"StringNotEquals", "k", List{"abc"}, false},
		{"StringNotEquals", "missing", List{"abc"}, true},
		{"StringLike", "k", List{"a*"}, true},
		{"StringNotLike", "k", List{"b*"}, true},
		{"StringEqualsIgnoreCase", "k", List{"ABC"}, true},
		{"StringEqualsIfExists", "missing", List{"x"}, true},
		{"StringEquals", "missing", List{"x"}, false},
		{"ArnLike", "k", List{"?b?"}, true},
	}
	for _, tc := range tests {
		if got := condition(tc.op, ctx, tc.key, tc.values); got != tc.want {
			t.Errorf("%s %s %v: %v, want %v", tc.op, tc.key, tc.values, got, tc.want)
		}
	}
}

func TestParseRefusesWhatTheLabCannotEvaluate(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown operator": `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`,
		"bad effect":       `{"Statement":[{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}]}`,
		"no action":        `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`,
		"no resource":      `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}`,
		"no statement":     `{"Version":"2012-10-17"}`,
		"not json":         `{`,
		"numbers":          `{"Statement":[{"Effect":"Allow","Action":[1],"Resource":"*"}]}`,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if p, err := Parse([]byte(`{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`)); err != nil || Evaluate([]Policy{p}, Request{Action: "s3:GetObject", Resource: "x"}) != Allow || Evaluate([]Policy{p}, Request{Action: "iam:PassRole", Resource: "x"}) != ImplicitDeny {
		t.Fatalf("a lone statement with NotAction: %v", err)
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"*c", "abc", true}, {"a?c", "abc", true},
		{"a?c", "ac", false}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false},
		{"abc", "abcd", false}, {"", "", true}, {"", "a", false}, {"**", "x", true},
	} {
		if got := Match(tc.p, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

func TestS3Actions(t *testing.T) {
	w := Where{Region: "us-east-1", Account: "000000000000"}
	rename := func(b string) string { return strings.Replace(b, "data-", "data-000000000000-", 1) }
	tests := []struct {
		method, target string
		header         http.Header
		want           []string // action resource
	}{
		{"HEAD", "/app-data-us-east-1", nil, []string{"s3:ListBucket arn:aws:s3:::app-data-000000000000-us-east-1"}},
		{"GET", "/app-data-us-east-1?list-type=2&prefix=x", nil, []string{"s3:ListBucket arn:aws:s3:::app-data-000000000000-us-east-1"}},
		{"GET", "/app-data-us-east-1?versions", nil, []string{"s3:ListBucketVersions arn:aws:s3:::app-data-000000000000-us-east-1"}},
		{"GET", "/app-data-us-east-1?versioning", nil, []string{"s3:GetBucketVersioning arn:aws:s3:::app-data-000000000000-us-east-1"}},
		{"GET", "/b/k?x-id=GetObject", nil, []string{"s3:GetObject arn:aws:s3:::b/k"}},
		{"HEAD", "/b/k", nil, []string{"s3:GetObject arn:aws:s3:::b/k"}},
		{"GET", "/b/k?versionId=3", nil, []string{"s3:GetObjectVersion arn:aws:s3:::b/k"}},
		{"PUT", "/b/k/deep?x-id=PutObject", nil, []string{"s3:PutObject arn:aws:s3:::b/k/deep"}},
		{"PUT", "/b/k", http.Header{"X-Amz-Copy-Source": {"/src/a%20b?versionId=7"}}, []string{"s3:PutObject arn:aws:s3:::b/k", "s3:GetObjectVersion arn:aws:s3:::src/a b"}},
		{"DELETE", "/b/k", nil, []string{"s3:DeleteObject arn:aws:s3:::b/k"}},
		{"DELETE", "/b/k?versionId=3", nil, []string{"s3:DeleteObjectVersion arn:aws:s3:::b/k"}},
		{"POST", "/b?delete", nil, []string{"s3:DeleteObject arn:aws:s3:::b/*"}},
		{"PUT", "/b?versioning", nil, []string{"s3:PutBucketVersioning arn:aws:s3:::b"}},
		{"GET", "/", nil, []string{"s3:ListAllMyBuckets *"}},
	}
	for _, tc := range tests {
		u, _ := url.Parse(tc.target)
		var got []string
		for _, r := range S3(w, tc.method, u, tc.header, rename) {
			got = append(got, r.Action+" "+r.Resource)
			if r.Context["aws:SecureTransport"] != "true" {
				t.Errorf("%s %s: no aws:SecureTransport", tc.method, tc.target)
			}
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s %s: %q, want %q", tc.method, tc.target, got, tc.want)
		}
	}
}

func TestDynamoDBActions(t *testing.T) {
	w := Where{Region: "us-west-2", Account: "000000000000"}
	tbl := func(n string) string { return "arn:aws:dynamodb:us-west-2:000000000000:table/" + n }
	tests := []struct {
		target, body string
		want         []string
	}{
		{"DynamoDB_20120810.GetItem", `{"TableName":"o","Key":{}}`, []string{"dynamodb:GetItem " + tbl("o")}},
		{"DynamoDB_20120810.Query", `{"TableName":"o","IndexName":"byDay"}`, []string{"dynamodb:Query " + tbl("o") + "/index/byDay"}},
		{"DynamoDB_20120810.BatchWriteItem", `{"RequestItems":{"b":[],"a":[]}}`, []string{"dynamodb:BatchWriteItem " + tbl("a"), "dynamodb:BatchWriteItem " + tbl("b")}},
		{"DynamoDB_20120810.TransactWriteItems", `{"TransactItems":[{"ConditionCheck":{"TableName":"c"}},{"Put":{"TableName":"o"}},{"Put":{"TableName":"o"}}]}`,
			[]string{"dynamodb:ConditionCheckItem " + tbl("c"), "dynamodb:PutItem " + tbl("o")}},
		{"DynamoDB_20120810.TransactGetItems", `{"TransactItems":[{"Get":{"TableName":"c"}}]}`, []string{"dynamodb:GetItem " + tbl("c")}},
		{"DynamoDB_20120810.ListTables", `{}`, []string{"dynamodb:ListTables *"}},
		{"DynamoDBStreams_20120810.GetRecords", `{"ShardIterator":"x"}`, []string{"dynamodb:GetRecords " + tbl("*") + "/stream/*"}},
		// DynamoDB Local's stream names and iterators name the table.
		{"DynamoDBStreams_20120810.DescribeStream", `{"StreamArn":"arn:aws:dynamodb:ddblocal:000000000000:table/o/stream/2026-12-03T05:57:42.695"}`,
			[]string{"dynamodb:DescribeStream " + tbl("o") + "/stream/2026-12-03T05:57:42.695"}},
		{"DynamoDBStreams_20120810.GetRecords", `{"ShardIterator":"arn:aws:dynamodb:ddblocal:000000000000:table/o/stream/2026-12-03T05:57:42.695|001|c2hh"}`,
			[]string{"dynamodb:GetRecords " + tbl("o") + "/stream/2026-12-03T05:57:42.695"}},
	}
	for _, tc := range tests {
		reqs, err := DynamoDB(w, tc.target, []byte(tc.body))
		if err != nil {
			t.Errorf("%s: %v", tc.target, err)
			continue
		}
		var got []string
		for _, r := range reqs {
			got = append(got, r.Action+" "+r.Resource)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: %q, want %q", tc.target, got, tc.want)
		}
	}
	for _, bad := range [][2]string{{"DynamoDB_20120810", "{}"}, {"DynamoDB_20120810.PutItem", "{"}, {"DynamoDB_20120810.PutItem", "{}"}, {"DynamoDB_20120810.TransactWriteItems", `{"TransactItems":[{"Frob":{"TableName":"o"}}]}`}} {
		if _, err := DynamoDB(w, bad[0], []byte(bad[1])); err == nil {
			t.Errorf("%s %s: no error", bad[0], bad[1])
		}
	}
}

func TestAccessKey(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://x/b/k", nil)
	if _, ok := AccessKey(r); ok {
		t.Fatal("an unsigned request has a key")
	}
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDLAB/20261127/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
	if k, ok := AccessKey(r); !ok || k != "AKIDLAB" {
		t.Fatalf("key %q %v", k, ok)
	}
	r, _ = http.NewRequest("GET", "http://x/b/k?X-Amz-Credential=PRE%2F20261127%2Fus-east-1%2Fs3%2Faws4_request", nil)
	if k, ok := AccessKey(r); !ok || k != "PRE" {
		t.Fatalf("presigned key %q %v", k, ok)
	}
}

// FuzzParse: any document parses or fails without a panic, and a parsed
// one evaluates any request without one.
func FuzzParse(f *testing.F) {
	f.Add([]byte(appPolicy), "s3:GetObject", "arn:aws:s3:::b/k")
	f.Add([]byte(`{"Statement":{"Effect":"Deny","NotAction":["*"],"NotResource":"a*?","Condition":{"BoolIfExists":{"k":[true]}}}}`), "x", "y")
	f.Add([]byte(`{"Statement":[null]}`), "", "")
	f.Fuzz(func(t *testing.T, doc []byte, action, resource string) {
		p, err := Parse(doc)
		if err != nil {
			return
		}
		Evaluate([]Policy{p}, Request{Action: action, Resource: resource, Context: map[string]string{"k": action}})
	})
}

// FuzzRequests: any DynamoDB body or S3 request line maps to
// authorizations or an error, without a panic.
func FuzzRequests(f *testing.F) {
	f.Add("DynamoDB_20120810.TransactWriteItems", `{"TransactItems":[{"Put":{"TableName":"o"}}]}`, "PUT", "/b/k?versionId=1")
	f.Add("DynamoDBStreams_20120810.GetRecords", `{"StreamArn":"s"}`, "POST", "/b?delete")
	f.Fuzz(func(t *testing.T, target, body, method, target2 string) {
		w := Where{Region: "r", Account: "a"}
		if reqs, err := DynamoDB(w, target, []byte(body)); err == nil && len(reqs) == 0 {
			t.Fatal("no error and no authorization")
		}
		if u, err := url.Parse(target2); err == nil {
			if len(S3(w, method, u, http.Header{"X-Amz-Copy-Source": {target2}}, nil)) == 0 {
				t.Fatal("no S3 authorization")
			}
		}
	})
}
