// Package lambdaplane is the lab's Lambda control plane for the user's own
// functions: the part of the Lambda API (2015-03-31 and later paths) that
// the AWS CLI and SDKs use to create, read, configure, invoke and delete a
// function and its function URL, served per lab region.
//
// A function's code is a zip holding a `bootstrap` built for this machine
// (runtime provided.al2023 or provided.al2, as a Go function is deployed);
// it runs under the runtime interface emulator in a pool of its own
// (package functions), with the region's DynamoDB and S3 endpoints and the
// lab's key in its environment. Everything is kept under one directory, so
// a lab restarted on it keeps its functions.
//
// It does not own pilotlight's own functions (the lab starts those from the
// templates, with their roles) nor faults: the lab gives it a gate that
// says whether its region answers.
package lambdaplane
