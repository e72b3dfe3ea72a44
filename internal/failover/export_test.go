package failover

// Cfg lets a test change a built controller's configuration: a fault
// injected after New, as a later event would.
func (c *Controller) Cfg() *Config { return &c.cfg }
