"""In-app notifications: replies to followed threads and moderation of one's own posts."""
