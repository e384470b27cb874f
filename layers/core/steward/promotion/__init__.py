"""Promotion: approved versions deployed through their stages, tracked to the end, rolled back on command."""
