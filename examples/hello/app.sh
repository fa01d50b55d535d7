#!/bin/sh
# The app: "Hello $NAME!" and this container's hostname, like the seeds' app.py.
printf 'Content-Type: text/html\r\n\r\n'
echo "<h3>Hello ${NAME:-world}!</h3><b>Hostname:</b> $(hostname)<br/>"
