"""The business as clients recognise it: logo, accent colour, contact details."""
