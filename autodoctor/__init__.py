"""Auto Doctor Scheduling: appointments and availability for remote mechanic sessions."""
