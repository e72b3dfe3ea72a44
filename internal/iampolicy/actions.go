package iampolicy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Where is the partition-less place a request is made: its region and the
// account that owns the resources.
type Where struct {
	Region, Account string
}

func (w Where) tableARN(table string) string {
	return "arn:aws:dynamodb:" + w.Region + ":" + w.Account + ":table/" + table
}

// context is the condition keys every request carries in the lab. Lab
// connections count as TLS (aws:SecureTransport): the lab has none, and a
// template's deny of plain HTTP must not refuse it.
func (w Where) context() map[string]string {
	return map[string]string{"aws:SecureTransport": "true", "aws:RequestedRegion": w.Region}
}

// DynamoDB returns the authorizations a DynamoDB (or DynamoDB Streams) API
// call needs: target is its X-Amz-Target header and body its JSON request.
// A batch or transaction needs one per table and kind of write, as on AWS
// (TransactGetItems needs GetItem, a transaction's condition check
// ConditionCheckItem). A request it cannot read is an error.
func DynamoDB(w Where, target string, body []byte) ([]Request, error) {
	svc, op, ok := strings.Cut(target, ".")
	if !ok || op == "" {
		return nil, fmt.Errorf("X-Amz-Target %q names no operation", target)
	}
	var req struct {
		TableName     string
		IndexName     string
		StreamArn     string
		ShardIterator string
		RequestItems  map[string]json.RawMessage
		TransactItems []map[string]struct{ TableName string }
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("%s request: %w", op, err)
		}
	}
	var out []Request
	add := func(action, resource string) {
		for _, r := range out {
			if r.Action == action && r.Resource == resource {
				return
			}
		}
		out = append(out, Request{Action: action, Resource: resource, Context: w.context()})
	}
	if strings.HasPrefix(svc, "DynamoDBStreams") {
		// DynamoDB Local names a stream arn:aws:dynamodb:ddblocal:…:table/
		// T/stream/L, and its iterators start with that name: the request
		// is for stream L of table T in this region.
		stream := req.StreamArn
		if stream == "" {
			stream, _, _ = strings.Cut(req.ShardIterator, "|")
		}
		switch _, rest, ok := strings.Cut(stream, ":table/"); {
		case ok:
			add("dynamodb:"+op, w.tableARN(rest))
		case req.ShardIterator != "":
			// An iterator that names no stream: any stream of the region's
			// tables.
			add("dynamodb:"+op, w.tableARN("*")+"/stream/*")
		default:
			add("dynamodb:"+op, "*")
		}
		return out, nil
	}
	switch op {
	case "BatchGetItem", "BatchWriteItem":
		tables := make([]string, 0, len(req.RequestItems))
		for t := range req.RequestItems {
			tables = append(tables, t)
		}
		sort.Strings(tables)
		for _, t := range tables {
			add("dynamodb:"+op, w.tableARN(t))
		}
	case "TransactWriteItems", "TransactGetItems":
		kinds := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
		for _, ti := range req.TransactItems {
			for kind, x := range ti {
				action, ok := kinds[kind]
				if !ok {
					return nil, fmt.Errorf("%s: unknown item kind %s", op, kind)
				}
				add("dynamodb:"+action, w.tableARN(x.TableName))
			}
		}
	case "ListTables", "ListBackups", "DescribeLimits", "DescribeEndpoints", "ListGlobalTables":
		add("dynamodb:"+op, "*")
	default:
		if req.TableName == "" {
			return nil, fmt.Errorf("%s request names no table", op)
		}
		arn := w.tableARN(req.TableName)
		if req.IndexName != "" && (op == "Query" || op == "Scan") {
			arn += "/index/" + req.IndexName
		}
		add("dynamodb:"+op, arn)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s request names no table", op)
	}
	return out, nil
}

// S3 returns the authorization a path-style S3 request needs: the action
// AWS checks for the API call the method, path and subresource make, on
// the bucket's or the object's ARN. bucketName maps a bucket as named in
// the request to its name on AWS (the lab's buckets carry no account ID);
// nil keeps it. A copy needs s3:GetObject on its source too.
func S3(w Where, method string, u *url.URL, h http.Header, bucketName func(string) string) []Request {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if bucketName != nil && bucket != "" {
		bucket = bucketName(bucket)
	}
	q := u.Query()
	q.Del("x-id")
	if bucket == "" {
		return w.s3("ListAllMyBuckets", "*")
	}
	barn := "arn:aws:s3:::" + bucket
	if key == "" {
		return w.s3Bucket(method, q, barn)
	}
	return w.s3Object(method, q, h, barn+"/"+key, bucketName)
}

// s3 is one S3 request of action on resource.
func (w Where) s3(action, resource string) []Request {
	return []Request{{Action: "s3:" + action, Resource: resource, Context: w.context()}}
}

// s3Bucket is a request of a bucket (its ARN barn) or its subresources.
func (w Where) s3Bucket(method string, q url.Values, barn string) []Request {
	one := w.s3
	sub := bucketSubresource(q)
	title := func(prefix string) string { return prefix + strings.ToUpper(sub[:1]) + sub[1:] }
	switch method {
	case http.MethodHead:
		return one("ListBucket", barn)
	case http.MethodGet:
		switch sub {
		case "":
			return one("ListBucket", barn)
		case "versions":
			return one("ListBucketVersions", barn)
		case "uploads":
			return one("ListBucketMultipartUploads", barn)
		case "location":
			return one("GetBucketLocation", barn)
		case "versioning":
			return one("GetBucketVersioning", barn)
		case "replication":
			return one("GetReplicationConfiguration", barn)
		case "encryption":
			return one("GetEncryptionConfiguration", barn)
		case "lifecycle":
			return one("GetLifecycleConfiguration", barn)
		}
		return one(title("GetBucket"), barn)
	case http.MethodPut:
		switch sub {
		case "":
			return one("CreateBucket", barn)
		case "replication":
			return one("PutReplicationConfiguration", barn)
		case "encryption":
			return one("PutEncryptionConfiguration", barn)
		case "lifecycle":
			return one("PutLifecycleConfiguration", barn)
		}
		return one(title("PutBucket"), barn)
	case http.MethodDelete:
		if sub == "" {
			return one("DeleteBucket", barn)
		}
		return one(title("DeleteBucket"), barn)
	case http.MethodPost:
		if q.Has("delete") {
			// DeleteObjects is authorized per object; the lab checks the
			// bucket's objects as a whole.
			return one("DeleteObject", barn+"/*")
		}
	}
	return one("UnknownBucketOperation", barn)
}

// s3Object is a request of an object (its ARN oarn); a copy reads its
// source too.
func (w Where) s3Object(method string, q url.Values, h http.Header, oarn string, bucketName func(string) string) []Request {
	one, has := w.s3, q.Has
	versioned := q.Get("versionId") != ""
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case has("tagging") && versioned:
			return one("GetObjectVersionTagging", oarn)
		case has("tagging"):
			return one("GetObjectTagging", oarn)
		case has("acl"):
			return one("GetObjectAcl", oarn)
		case has("attributes"):
			return one("GetObjectAttributes", oarn)
		case has("uploadId"):
			return one("ListMultipartUploadParts", oarn)
		case versioned:
			return one("GetObjectVersion", oarn)
		}
		return one("GetObject", oarn)
	case http.MethodPut:
		switch {
		case has("tagging"):
			return one("PutObjectTagging", oarn)
		case has("acl"):
			return one("PutObjectAcl", oarn)
		}
		out := one("PutObject", oarn)
		if src := h.Get("X-Amz-Copy-Source"); src != "" {
			src, _ = url.PathUnescape(src)
			path, ver, _ := strings.Cut(strings.TrimPrefix(src, "/"), "?versionId=")
			sb, sk, _ := strings.Cut(path, "/")
			if bucketName != nil {
				sb = bucketName(sb)
			}
			action := "GetObject"
			if ver != "" {
				action = "GetObjectVersion"
			}
			out = append(out, one(action, "arn:aws:s3:::"+sb+"/"+sk)...)
		}
		return out
	case http.MethodDelete:
		switch {
		case has("tagging"):
			return one("DeleteObjectTagging", oarn)
		case has("uploadId"):
			return one("AbortMultipartUpload", oarn)
		case versioned:
			return one("DeleteObjectVersion", oarn)
		}
		return one("DeleteObject", oarn)
	case http.MethodPost:
		if has("restore") {
			return one("RestoreObject", oarn)
		}
		return one("PutObject", oarn) // multipart create and complete
	}
	return one("UnknownObjectOperation", oarn)
}

// bucketSubresource is the subresource a bucket request names ("" for a
// listing: its parameters are list-type, prefix and the like).
func bucketSubresource(q url.Values) string {
	for _, s := range []string{"versions", "uploads", "location", "versioning", "replication", "encryption", "lifecycle", "policy", "acl", "tagging", "cors", "website", "logging", "notification", "ownershipControls", "publicAccessBlock", "object-lock"} {
		if q.Has(s) {
			return s
		}
	}
	return ""
}

// FunctionURL returns the two authorizations a call to a function URL with
// AuthType AWS_IAM needs since October 2025: lambda:InvokeFunctionUrl (with
// lambda:FunctionUrlAuthType) and lambda:InvokeFunction (with
// lambda:InvokedViaFunctionUrl).
func FunctionURL(w Where, function string) []Request {
	arn := "arn:aws:lambda:" + w.Region + ":" + w.Account + ":function:" + function
	url, invoke := w.context(), w.context()
	url["lambda:FunctionUrlAuthType"] = "AWS_IAM"
	invoke["lambda:InvokedViaFunctionUrl"] = "true"
	return []Request{
		{Action: "lambda:InvokeFunctionUrl", Resource: arn, Context: url},
		{Action: "lambda:InvokeFunction", Resource: arn, Context: invoke},
	}
}

// AccessKey returns the access key ID a SigV4-signed request was signed
// with (from its Authorization header or, presigned, its query); ok is
// false for an unsigned request.
func AccessKey(r *http.Request) (string, bool) {
	if a := r.Header.Get("Authorization"); a != "" {
		_, rest, found := strings.Cut(a, "Credential=")
		if !found {
			return "", false
		}
		id, _, _ := strings.Cut(rest, "/")
		return id, id != ""
	}
	if c := r.URL.Query().Get("X-Amz-Credential"); c != "" {
		id, _, _ := strings.Cut(c, "/")
		return id, id != ""
	}
	return "", false
}
