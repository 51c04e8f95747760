"""The handoff desk's side in the Rasa process: people at the support desk take over.

The account services keep the queue, the claims and the transcript (docs/handoff.md is the
contract). Here, in the process that carries the customers' conversations:

- `held`: which conversations a person holds (in process, or in Redis across replicas);
- `desk.HandoffDesk`: the conversation layer asks it first about every signed-in message:
  while a conversation is held, the customer's messages go to the desk (the transcript at the
  services, live to the agent through push) and the assistant stays silent; it watches each
  open handoff and tells the customer, in their language, when an agent joins, leaves or
  closes, where they are in the queue, and when nobody has come for too long;
- `desk_socket.DeskInput`: the agent console's Socket.IO (`/desk/socket.io`) on the Rasa
  server: queue, claim, the conversation, replies, typing, the customer's account read
  through the handoff's grant, release and close.
"""
