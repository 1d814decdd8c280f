/* lwIP options for ukit: a server stack inside a unikernel.
 *
 * Why each group is set the way it is: docs/net.md ("lwIP options"). In short: ukit is
 * cooperative on one CPU, so lwIP runs without an OS layer (NO_SYS) under one core lock
 * taken by lib/net; memory comes from the kernel heap on demand; TCP is tuned for many
 * connections and large windows. */
#ifndef UK_LWIPOPTS_H
#define UK_LWIPOPTS_H

/* --- System: no OS layer, the raw API only ------------------------------------------ */
#define NO_SYS                        1
#define SYS_LIGHTWEIGHT_PROT          0   /* one core lock in lib/net, no interrupts */
#define LWIP_TIMERS                   1   /* lib/net runs sys_check_timeouts() */
#define LWIP_NETCONN                  0
#define LWIP_SOCKET                   0   /* ukit's BSD sockets live in posix/ */
#define LWIP_CALLBACK_API             1

/* --- Memory: the kernel heap, on demand --------------------------------------------- */
/* mem_malloc and every memp pool (pcbs, segments, pbufs) go to the kernel heap through
 * functions exported by lib/net; nothing is reserved up front, so a small image pays
 * nothing for the large limits below. */
#define MEM_LIBC_MALLOC               1
#define MEMP_MEM_MALLOC               1
#define MEM_ALIGNMENT                 8
#define mem_clib_malloc               uk_net_malloc
#define mem_clib_free                 uk_net_free
#define mem_clib_calloc               uk_net_calloc
#include <stddef.h>
void *uk_net_malloc(size_t size);
void *uk_net_calloc(size_t count, size_t size);
void uk_net_free(void *ptr);

/* --- Protocols ----------------------------------------------------------------------- */
#define LWIP_IPV4                     1
#define LWIP_IPV6                     1
#define LWIP_ARP                      1
#define LWIP_ETHERNET                 1
#define ARP_QUEUEING                  1
#define LWIP_ICMP                     1
#define LWIP_DHCP                     1
#define LWIP_AUTOIP                   0
#define LWIP_IGMP                     0
#define LWIP_DNS                      0   /* musl resolves over UDP itself */
#define LWIP_RAW                      0
#define LWIP_UDP                      1
#define LWIP_TCP                      1
#define LWIP_IPV6_AUTOCONFIG          1
#define LWIP_IPV6_DHCP6               0
#define IP_REASSEMBLY                 1
#define IP_FRAG                       1
#define IPV6_FRAG_COPYHEADER          1
#define LWIP_SINGLE_NETIF             0

/* --- Limits: servers ----------------------------------------------------------------- */
#define MEMP_NUM_TCP_PCB              1024
#define MEMP_NUM_TCP_PCB_LISTEN       128
#define MEMP_NUM_UDP_PCB              256
#define MEMP_NUM_TCP_SEG              8192
#define MEMP_NUM_REASSDATA            64
#define MEMP_NUM_ARP_QUEUE            256
#define MEMP_NUM_ND6_QUEUE            64
#define PBUF_POOL_SIZE                1024
#define ARP_TABLE_SIZE                64
#define LWIP_ND6_NUM_NEIGHBORS        32
#define LWIP_ND6_NUM_DESTINATIONS     32

/* --- TCP: large windows with scaling, keepalive, reuse, listen backlog --------------- */
#define TCP_MSS                       1460
#define LWIP_WND_SCALE                1
#define TCP_RCV_SCALE                 4            /* advertised up to 1 MiB */
#define TCP_WND                       (512 * 1024)
#define TCP_SND_BUF                   (512 * 1024)
#define TCP_SND_QUEUELEN              ((4 * TCP_SND_BUF) / TCP_MSS)
#define TCP_SNDLOWAT                  (32 * 1024)  /* writable above this; lwIP wants < 64K */
#define TCP_OVERSIZE                  TCP_MSS
#define TCP_QUEUE_OOSEQ               1
/* No lwIP listen backlog: its counter is a u8_t (at most 255 connections from SYN to
 * accept), too few for a burst of thousands of connections. lib/net keeps the
 * program's backlog (up to somaxconn, 4096) and a bound on half-open connections
 * itself, in the TCP input hook below (lib/net/src/tcp.rs). */
#define TCP_LISTEN_BACKLOG            0
#define LWIP_TCP_KEEPALIVE            1
#define SO_REUSE                      1
#define SO_REUSE_RXTOALL              1
#define LWIP_TCP_TIMESTAMPS           0
#define LWIP_TCP_SACK_OUT             0
#define TCP_MSL                       60000UL
#define LWIP_TCP_PCB_NUM_EXT_ARGS     0

/* --- Hooks: lib/net sees each TCP segment before lwIP's state machine does -------- */
/* A SYN for a connection in TIME_WAIT is accepted as a new connection as Linux does
 * (lwIP answers it with an ACK for the old one), and a SYN finding the listener's
 * accept queue full, or too many connections half-open, is dropped, as on Linux.
 * lib/net/src/tcp.rs, docs/net.md. */
struct tcp_pcb;
struct tcp_hdr;
struct pbuf;
signed char uk_net_tcp_inpacket(struct tcp_pcb *pcb, struct tcp_hdr *hdr, struct pbuf *p);
#define LWIP_HOOK_TCP_INPACKET_PCB(pcb, hdr, optlen, opt1len, opt2, p) \
        uk_net_tcp_inpacket((struct tcp_pcb *)(pcb), (hdr), (p))
/* Initial sequence numbers as Linux makes them: a keyed hash of the
 * connection's addresses and ports plus a clock. Without the hook lwIP starts every
 * connection at 6510 plus its timer ticks: guessable, and a new connection on the
 * ports of an old one would reuse its sequence numbers (lib/net/src/stack.rs). */
struct ip_addr;
unsigned int uk_net_tcp_isn(const struct ip_addr *local_ip, unsigned short local_port,
                            const struct ip_addr *remote_ip, unsigned short remote_port);
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) \
        uk_net_tcp_isn((local_ip), (local_port), (remote_ip), (remote_port))

/* --- Interfaces: loopback so that 127.0.0.1 and ::1 work inside the image ------------ */
#define LWIP_HAVE_LOOPIF              1
#define LWIP_NETIF_LOOPBACK           1
#define LWIP_LOOPBACK_MAX_PBUFS       0   /* no cap: loopback flow is bounded by TCP */
#define LWIP_NETIF_LOOPBACK_MULTITHREADING 0  /* lib/net calls netif_poll_all() */
#define LWIP_NETIF_STATUS_CALLBACK    1
#define LWIP_NETIF_LINK_CALLBACK      1
#define LWIP_NETIF_HOSTNAME           0
#define ETH_PAD_SIZE                  0

/* --- Checksums: generated and checked in software (no offload on tap/passt) --------- */
#define CHECKSUM_GEN_IP               1
#define CHECKSUM_GEN_UDP              1
#define CHECKSUM_GEN_TCP              1
#define CHECKSUM_GEN_ICMP             1
#define CHECKSUM_GEN_ICMP6            1
#define CHECKSUM_CHECK_IP             1
#define CHECKSUM_CHECK_UDP            1
#define CHECKSUM_CHECK_TCP            1
#define CHECKSUM_CHECK_ICMP           1
#define CHECKSUM_CHECK_ICMP6          1

/* --- Statistics and debugging: off (lib/netdev counts device-level drops) ----------- */
#define LWIP_STATS                    0
#define LWIP_DEBUG                    0

#endif
