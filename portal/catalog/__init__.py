"""What a business offers: services, and the providers who perform them."""
