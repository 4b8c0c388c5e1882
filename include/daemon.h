/*
 * daemon: `twamp-client run`, the probe daemon.  The main thread loads and
 * publishes the configuration (and later downloads it), handles signals, and
 * shuts everything down in order: scheduler (drains sessions), then sender
 * (delivers or spools every record).
 */
#ifndef DAEMON_H
#define DAEMON_H

int daemon_main(int argc, char **argv);
/* `twamp-client health`: 0 when a cycle ended recently enough, else 1. */
int daemon_health(int argc, char **argv);

#endif
