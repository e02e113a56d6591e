// Transport
//
// A small Swift layer over libzmq: context, sockets, multipart messages, poller, options, CURVE keys and the 
// ZAP handler.
