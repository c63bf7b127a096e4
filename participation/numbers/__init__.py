"""The numbers: public figures on participation and on how the city answers."""
