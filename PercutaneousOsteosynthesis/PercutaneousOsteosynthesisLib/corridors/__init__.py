"""Named osseous fixation pathways (S1/S2 iliosacral and transsacral, supra-acetabular, anterior and posterior
column, femoral neck): landmarks from the CT, the widest safe line in each, the screw it takes, corridors.json."""
