// Package orders owns the orders service: the small HTTP application that
// pilotlight protects and that every drill drives. It speaks the Lambda
// function-URL event format, writes an order item to the protected table and
// an attachment object to the protected bucket, reads them back, and reports
// /health for routing.
//
// Write fencing lives here: a write is accepted only inside a DynamoDB
// transaction that also checks the region's own control record names it
// active at the epoch it saw, and only while no higher epoch is visible in
// the peer region. A fenced region answers 503 with the active region in the
// X-Pilotlight-Active-Region header.
package orders
