"""What people read: reports, drawings, plots, tables, log formatting."""
