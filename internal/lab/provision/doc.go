// Package provision creates what a lab region holds: the tables and
// buckets the templates deploy (Templates, checked against what the lab's
// stand-ins need with Check), or the lab's own set (Own), and the first
// active record in every control table.
//
// It must not start servers or read templates: parity resolves the
// templates into Resources, the lab hands over its regions' clients.
package provision
