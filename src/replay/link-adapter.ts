// Every source's packets in the output's link type: the same bytes when the
// link types agree; raw IP given an Ethernet header only when asked
// (--add-ethernet); anything else refused with the two link types named.
import { UserError } from '../errors';
import { linktypeName } from '../filter';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../output/linktypes';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, ethernetHeader } from './headers';

export class LinkAdapter {
  /**
   * `ethernet`: the addresses --add-ethernet puts on raw IP packets (dst from
   * the user, src the interface's own), or undefined to refuse them.
   */
  constructor(
    readonly linktype: number,
    private readonly ethernet?: { dst: Buffer; src: Buffer },
  ) {}

  /** Can packets of `linktype` be written or sent (maybe with a header added)? Throws a UserError naming `where` if not. */
  check(linktype: number, where: string): void {
    if (linktype === this.linktype) return;
    if (linktype === LINKTYPE_RAW && this.linktype === LINKTYPE_ETHERNET) {
      if (this.ethernet) return;
      throw new UserError(`${where} holds raw IP packets and the output is Ethernet`, 'add --add-ethernet DST_MAC to put an Ethernet header in front of each packet');
    }
    throw new UserError(`${where} has link type ${linktypeName(linktype)}, the output ${linktypeName(this.linktype)}`, 'replay traces of one link type together (tcprewrite --dlt converts some)');
  }

  /** The packet's bytes for the output (check() has accepted `linktype`). */
  adapt(data: Buffer, linktype: number, where: string): Buffer {
    if (linktype === this.linktype) return data;
    this.check(linktype, where);
    const version = data.length > 0 ? data[0] >> 4 : 0;
    const ethertype = version === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
    return Buffer.concat([ethernetHeader(this.ethernet!.dst, this.ethernet!.src, ethertype), data]);
  }
}
