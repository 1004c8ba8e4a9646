"""pairdesk: operator console for linking and watching many WhatsApp accounts."""

__version__ = "0.1.0"
