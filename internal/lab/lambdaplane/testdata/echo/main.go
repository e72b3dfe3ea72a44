// Command echo is the lab Lambda plane tests' function: it answers a
// function URL's request with 201 and its GREETING and body, and any other
// event with the event itself and GREETING.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, ev json.RawMessage) (any, error) {
		var u events.LambdaFunctionURLRequest
		if json.Unmarshal(ev, &u) == nil && u.RawPath != "" {
			return events.LambdaFunctionURLResponse{StatusCode: 201, Headers: map[string]string{"X-Region": os.Getenv("AWS_REGION")},
				Body: os.Getenv("GREETING") + " " + u.RequestContext.HTTP.Method + " " + u.RawPath + " " + u.Body}, nil
		}
		return map[string]any{"event": ev, "greeting": os.Getenv("GREETING"), "region": os.Getenv("AWS_REGION")}, nil
	})
}
