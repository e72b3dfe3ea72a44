package protect

import "github.com/pilotlight/pilotlight/internal/protect/inventory"

// autoScaling is a capacity's auto scaling settings in a global table's
// template.
func autoScaling(s *inventory.Scaling) obj {
	target := s.Target
	if target == 0 {
		target = 70
	}
	return obj{"MinCapacity": s.Min, "MaxCapacity": s.Max, "TargetTrackingScalingPolicyConfiguration": obj{"TargetValue": target}}
}

// provisioned sets a provisioned table's capacity on its global table's
// template: write auto scaling for the table and each global index (a
// global table's writes are replicated, so every replica scales alike),
// and read capacity per replica — its auto scaling, or its units.
func provisioned(t inventory.Table, props obj) {
	props["BillingMode"] = "PROVISIONED"
	write := obj{"WriteCapacityAutoScalingSettings": autoScaling(t.WriteScaling)}
	props["WriteProvisionedThroughputSettings"] = write
	read := obj{"ReadCapacityUnits": max(t.ReadCapacity, 1)}
	if t.ReadScaling != nil {
		read = obj{"ReadCapacityAutoScalingSettings": autoScaling(t.ReadScaling)}
	}
	if gs, ok := props["GlobalSecondaryIndexes"].([]obj); ok {
		for _, g := range gs {
			g["WriteProvisionedThroughputSettings"] = write
		}
	}
	for _, r := range props["Replicas"].([]obj) {
		r["ReadProvisionedThroughputSettings"] = read
		var gsis []obj
		for _, ix := range t.Indexes {
			if !ix.Local {
				gsis = append(gsis, obj{"IndexName": ix.Name, "ReadProvisionedThroughputSettings": read})
			}
		}
		if len(gsis) > 0 {
			r["GlobalSecondaryIndexes"] = gsis
		}
	}
}
