# Responder capacity (issue 8 section 3).
#   make loadgen              build/bench/loadgen: the load generator (bench/loadgen.c)
#   make responder-capacity   bench/responder-capacity: the responder pinned to one
#                             core, loaded from the other (light, STAMP and control
#                             mode), prints reflected packets/s, loss, sessions held,
#                             CPU, RSS per session and the syscalls per packet.
LOADGEN := $(BUILD)/bench/loadgen

.PHONY: loadgen responder-capacity

loadgen: $(LOADGEN)

$(LOADGEN): bench/loadgen.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDFLAGS) $(LDLIBS)

responder-capacity: $(BIN) $(LOADGEN)
	@bench/responder-capacity --binary $(BIN) --loadgen $(LOADGEN)

-include $(LOADGEN).d
