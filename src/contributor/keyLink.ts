// Handing this browser's credit on to another key (another site's frame, another device):
// this browser signs a key link naming the other key, and sends it to the coordinator, which
// checks it against its ledger and records it (src/ledger/credit.ts). The private key never
// leaves this browser; what travels between the visitor's browsers is the other one's public
// key, shown there as a code to copy.

import { KeyLink, type SignedTreeHead } from '../protocol/messages.ts';
import { keyLinkStatement, parsePublicKey, webSign, type PublicKeyText, type WebKeyPair } from '../protocol/signing.ts';

/** The other browser's key code as pasted: spaces and line breaks from copying are dropped; anything else wrong is an Error that says what. */
export function parseKeyCode(input: string): PublicKeyText {
  const code = input.replace(/\s+/g, '');
  if (code === '') throw new Error('paste the key code shown by your other browser (it starts with "ed25519:" or "p256:")');
  parsePublicKey(code);
  return code;
}

/** A link from this browser's key to `toKey`, signed here. */
export async function signKeyLink(identity: WebKeyPair, jobId: string, toKey: PublicKeyText, now = Date.now()): Promise<KeyLink> {
  if (toKey === identity.publicKey) throw new Error('that is this browser’s own key: paste the key code of the browser that should get the credit');
  const body = { jobId, fromKey: identity.publicKey, toKey, issuedAt: now };
  return KeyLink.parse({ ...body, signature: await webSign(identity, keyLinkStatement(body)) });
}

export interface LinkTaken {
  /** The link's ledger entry, and the signed head that covers it. */
  entry: number;
  treeHead: SignedTreeHead;
}

/** The whole hand-over from a pasted key code: read it, sign the link with `identity`, send it. Any refusal is an Error that says why. */
export async function handCreditOn(identity: WebKeyPair, jobId: string, pastedCode: string): Promise<{ toKey: PublicKeyText; taken: LinkTaken }> {
  const toKey = parseKeyCode(pastedCode);
  return { toKey, taken: await sendKeyLink(await signKeyLink(identity, jobId, toKey)) };
}

/** POST the link; the coordinator's refusal comes back as an Error with its message. */
export async function sendKeyLink(link: KeyLink, fetchImpl: typeof fetch = fetch, url = '/api/key-link'): Promise<LinkTaken> {
  const response = await fetchImpl(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(link) });
  let body: { error?: string; entry?: number; treeHead?: SignedTreeHead };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new Error(`the coordinator answered HTTP ${response.status} without a reason`);
  }
  if (!response.ok) throw new Error(body.error ?? `the coordinator answered HTTP ${response.status}`);
  return { entry: body.entry!, treeHead: body.treeHead! };
}
