"""The code that touches the outside world: capture files, and later rings, TUN and in-memory links."""
