"""Pure rules: no database, web, network or clock reads. Time comes in as an argument."""
