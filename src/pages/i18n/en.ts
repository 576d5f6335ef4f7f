/**
 * The English page catalogue: every word a merchant reads on a sidecar page. The type of this
 * object is the contract other catalogues must meet key for key (see zh-cn.ts), so a new key here
 * is a type error until every language has it. Parameterised messages are functions, so plural
 * and word order stay the translator's choice.
 */

export type Method = 'totp' | 'sms' | 'email';

/** A help item: its bold lead and the explanation. */
export type HelpItem = readonly [lead: string, text: string];
export const pair = (lead: string, text: string): HelpItem => [lead, text];

export const en = {
  languageName: 'English',
  languageSwitcher: 'Language',
  siteTitle: (page: string, product: string) => `${page} · ${product}`,
  logoAlt: (product: string) => `${product} logo`,
  skipToContent: 'Skip to content',

  // Shared pieces
  verificationCode: 'Verification code',
  password: 'Password',
  email: 'Email',
  username: 'Username',
  continue: 'Continue',
  cancel: 'Cancel',
  sendNewCode: 'Send a new code',
  /** Shown by guard.js after "Send a new code" while it cannot be used: {s} is the seconds left. */
  resendCountdown: '({s} s)',
  didntReceive: 'Didn’t receive a code?',
  startAgain: 'Start again',
  backToSecurity: 'Back to Login & Security',
  backToProduct: (product: string) => `Back to ${product}`,
  stepOf: (current: number, total: number) => `Step ${current} of ${total}`,
  copy: 'Copy',
  copied: 'Copied',
  copyKey: 'Copy the key',
  copyCodes: 'Copy the codes',
  recoveryCodesLabel: 'Recovery codes',
  saveCodesNow: 'Save these codes now. They are shown only once.',
  saveCodesHow:
    'Each code works one time, in place of a verification code, if you lose your phone or cannot get a code. Print them, or keep them in a password manager or another safe place that is not the device you sign in with. Anyone who has them and your password can sign in.',
  savedCodesBack: 'I saved my codes — back to Login & Security',
  sixDigitsFromApp: 'Enter the 6-digit code your authenticator app shows.',
  sentTo: (where: string) => `We sent a 6-digit code: ${where}.`,
  methodName: { totp: 'Authenticator app', sms: 'Text message (SMS)', email: 'Email' },
  methodTo: (method: string, destination: string) => `${method} to ${destination}`,

  // Help, recovery codes, sign-in help and the 2FA status (issue 13)
  cantUseApp: 'Can’t use your app?',
  supportContact: (support: string) => `Still stuck? Contact support: ${support}.`,
  useRecoveryCode: 'Lost your device? Use a recovery code',
  recoveryCode: 'Recovery code',
  recoveryCodeHint: 'One of the codes you saved when you turned on two-factor authentication: letters and digits, like ab3d-7fgh-jk. Each works once.',
  useRecoveryButton: 'Use this recovery code',
  verifyWhere: {
    sms: (destination: string) => `We sent a 6-digit code by text message to ${destination}.`,
    email: (destination: string) => `We sent a 6-digit code by email to ${destination}.`,
  },
  forgotPassword: 'Forgot password?',
  signInHelp: (support: string) => `Trouble signing in? Contact support: ${support}.`,
  twoFactorEnabledHeading: 'Two-Factor Authentication Enabled',
  twoFactorDisabledHeading: 'Two-Factor Authentication Disabled',
  twoFactorEnabledText: (product: string) => `Signing in to ${product} from a new device needs your password and a code.`,
  codesGoTo: 'Codes go to',
  securityActions: 'What you can do',
  turnOffNote: 'Turning it off makes your account easier to take over if your password is stolen.',
  helpNoTwoFactor: pair(
    'No two-factor authentication?',
    'If you were asked for an email code because the sign-in looked unusual, you have no recovery codes: ask for a new code when the timer allows, check your spam folder, or contact support.',
  ),

  // Login
  signInTitle: 'Sign in',
  signInHeading: (product: string) => `Sign in to ${product}`,
  signInButton: 'Sign in',
  signedOut: 'You have signed out.',
  loginFailed: 'The email or password is not correct.',
  loginFailedUsername: 'The username or password is not correct.',
  loginLocked: (minutes: number) => `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
  loginAttemptsLeft: (n: number, username: boolean) =>
    `The ${username ? 'username' : 'email'} or password is not correct. ${n} attempt${n === 1 ? '' : 's'} left before sign-in from this device or network is paused.`,
  loginPausedHere: (minutes: number, username: boolean) =>
    `The ${username ? 'username' : 'email'} or password is not correct. Sign-in from this device or network is now paused for ${minutes} minute${minutes === 1 ? '' : 's'}; your other devices are not paused.`,
  loginSlowed: (seconds: number) =>
    `Many failed sign-in attempts were made on this account, so signing in is slowed down. Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`,
  loginUnavailable: (product: string) => `Signing in is not possible right now because ${product} cannot be reached. Please try again in a moment.`,
  loginFormExpired: 'This form has expired. Please sign in again.',
  loginUpstreamError: (product: string) =>
    `${product} gave an unexpected answer to the sign-in, so we could not check your password. This is not about your password and does not count as a failed attempt. Please try again later; if it keeps happening, contact support.`,
  noEmailOnFile: (support: string) =>
    `This sign-in needs a confirmation code by email, but no email address is known for your account, so none was sent. Contact ${support} to add one.`,
  noEmailLookupFailed: 'This sign-in needs a confirmation code by email, but your email address cannot be looked up right now, so none was sent. Please try again in a moment.',

  // Verify
  verifyTitle: 'Verification code',
  verifyHeading: 'Enter your verification code',
  verifyInstructions: {
    totp: 'Open your authenticator app and enter the 6-digit code it shows for your account.',
    sms: 'We sent a 6-digit code by text message to the phone number on your account.',
    email: 'We sent a 6-digit code to your email address.',
  },
  verifyButton: 'Verify',
  riskNotice: 'This sign-in looks different from your usual ones (a new device or network), so we sent a code to your email to make sure it is you.',
  formExpired: 'This form has expired. Please try again.',
  newCodeSent: 'A new code is on its way. The previous code no longer works.',
  codeWrong: (attemptsLeft: number) =>
    attemptsLeft > 0 ? `That code is not correct. ${attemptsLeft} attempt${attemptsLeft === 1 ? '' : 's'} left.` : 'That code is not correct.',
  codeExpired: 'That code has expired. Ask for a new one.',
  codeMalformed: 'Enter the 6-digit code, or one of your recovery codes.',
  codeDigitsOnly: 'Enter the code as digits only.',
  tooManyCodes: 'Too many wrong codes. Wait a while, then sign in again.',
  resendWait: (seconds: number) => `A code was sent recently. You can ask for another in ${seconds} seconds.`,
  tooManySent: (minutes: number) => `Too many codes were sent recently. Ask for a new code in ${minutes} minute(s), or use a recovery code.`,
  smsCountryBlocked: 'Text messages cannot be sent to this country.',
  smsCountryBlockedLogin: 'Text messages cannot be sent to your phone number. Use a recovery code, or contact support.',
  deliveryFailed: 'We could not send the code just now. Please try again in a moment, or use a recovery code.',
  deliveryFailedNoRecovery: 'We could not send the code just now. Please try again in a moment; if it keeps failing, contact support.',
  nothingToSend: 'Your authenticator app shows the code; nothing is sent.',
  loginExpired: 'This sign-in has expired. Start again with your email and password.',
  loginExpiredUsername: 'This sign-in has expired. Start again with your username and password.',
  loginAccountChanged:
    'Your account’s sign-in settings changed while you were signing in (two-factor authentication, where codes are sent, or a lock-out), so this sign-in has ended. Sign in again below.',

  // Logout
  signOutTitle: 'Sign out',
  signOutHeading: (product: string) => `Sign out of ${product}?`,
  signOutText: 'You will need your password (and your verification code, if you use two-factor authentication) to sign in again.',
  signOutButton: 'Sign out',
  staySignedIn: 'Stay signed in',
  alreadySignedInTitle: 'Already signed in',
  alreadySignedInHeading: (product: string) => `You are signed in to ${product}`,
  signedInAs: (user: string) => `Signed in as ${user}.`,
  continueTo: (product: string) => `Continue to ${product}`,
  signOutUpstreamFailed: (product: string) =>
    `You are signed out here, but ${product} did not confirm that its own session ended. Nothing in this browser can use it any more; if you are on a shared computer, close the browser. Support can see this in the audit log.`,

  // Login & Security
  securityTitle: 'Login & Security',
  twoFactor: 'Two-factor authentication',
  on: 'On',
  off: 'Off',
  verificationMethod: 'Verification method',
  recoveryCodesLeft: 'Recovery codes left',
  noCodesLeft: 'You have no recovery codes left.',
  fewCodesLeft: (left: number) => `Only ${left} recovery code${left === 1 ? '' : 's'} left.`,
  generateCodesHint: 'Generate new ones so you can still sign in if you lose your device.',
  generateCodes: 'Generate new recovery codes',
  turnOff: 'Turn off two-factor authentication',
  enable: 'Enable two-factor authentication',
  enablePitch: (product: string) =>
    `Two-factor authentication protects your ${product} account even if someone learns your password: signing in also needs a code from your phone or email.`,
  supportNote: (support: string) => `To change the email or phone used for verification, or if you lost your device, contact support: ${support}`,
  noticeEnabled: 'Two-factor authentication is on.',
  noticeDisabled: 'Two-factor authentication is off. Your other sessions were signed out.',
  noticeCodes: 'Your new recovery codes are ready. The old ones no longer work.',
  alreadyOnNotice: 'Two-factor authentication is already on. To change the method, turn it off first, then enable it again.',
  notOnNotice: 'Two-factor authentication is not on.',
  noCodesNotOn: 'Two-factor authentication is not on, so there are no recovery codes.',
  forged: 'This form has expired or did not come from this page, so nothing was changed. Please try again.',
  notThisPage: 'This form is not part of this page. Please start again.',

  // Enable wizard
  confirmItsYou: 'Confirm it’s you',
  enablePasswordText: 'Enter your password to continue. If you signed in a moment ago, you can leave it empty.',
  verifyIdentity: 'Verify your identity',
  whereToSend: 'Where should we send a code?',
  identityText: 'We’ll send a one-time code to confirm that this account is yours.',
  sendCodeBy: 'Send the code by',
  emailTo: (masked: string) => `to ${masked}`,
  smsToPhoneOnFile: 'to the phone number on your account',
  sendCode: 'Send code',
  enterCodeWeSent: 'Enter the code we sent',
  codeSentBySms: 'We sent a 6-digit code by text message to the phone number on your account. It expires in a few minutes.',
  codeSentToEmail: (masked: string) => `We sent a 6-digit code to ${masked}. It expires in a few minutes.`,
  useAnotherWay: 'Use another way',
  chooseMethod: 'Choose a method',
  howCodes: 'How do you want to get your codes?',
  recommended: 'Recommended',
  methodText: {
    totp: 'An app such as Google Authenticator, Microsoft Authenticator, Authy or 1Password shows a new code every 30 seconds. It works offline and is the strongest choice: nothing is sent over the phone network.',
    sms: 'We text a code to your phone each time you sign in.',
    email: 'We email a code to you each time you sign in.',
  },
  methodWarning: {
    totp: '',
    sms: 'NIST (SP 800-63B) classes SMS as a “restricted”, weaker method: texts can be intercepted or redirected to another phone, for example by SIM swapping or number porting.',
    email: 'The weakest choice: anyone with access to your mailbox can sign in. An email code is only as safe as your mailbox. Use it only if you cannot use the other methods.',
  },
  phoneLabel: 'Phone number for text messages',
  phoneHint: 'Only needed if you choose text message. Use international format, for example +1 555 555 0189.',
  setUpApp: 'Set up your authenticator app',
  scanQr: 'Scan this QR code',
  totpStep1: 'Open your authenticator app and add an account (often a “+” button).',
  totpStep2: 'Scan the QR code, or enter the key below by hand.',
  totpStep3: (product: string) => `Enter the 6-digit code the app shows for ${product}.`,
  qrAlt: (product: string) => `QR code for adding ${product} to your authenticator app`,
  cantScan: 'Can’t scan it? Enter this key (time-based, 6 digits, every 30 seconds):',
  onThisPhone: 'On this phone?',
  openInApp: 'Open it in your authenticator app',
  keyShownOnce: 'This key is shown only now. If you leave this page before finishing, start this step again for a new key.',
  codeFromApp: 'Code from the app',
  turnOn: 'Turn on two-factor authentication',
  confirmMethod: (method: string) => `Confirm: ${method}`,
  enterCodeToFinish: 'Enter the code to finish',
  codeSentSmsPhone: 'We sent a 6-digit code by text message to your phone.',
  codeSentEmail: (masked: string) => `We sent a 6-digit code to ${masked}.`,
  newQr: 'Show a new QR code',
  enabledTitle: 'Two-Factor Authentication Enabled',
  enabledText: (product: string, method: string) =>
    `From now on, signing in to ${product} needs your password and a code: ${method}. We also sent you an email about this change. Your other sessions were signed out.`,
  yourRecoveryCodes: 'Your recovery codes',

  // Disable wizard
  lessSecure: 'Your account will be less secure.',
  disableWarning: 'Without two-factor authentication, anyone who learns your password can sign in.',
  keepItOn: 'Cancel, keep it on',
  enterYourCode: 'Enter your code',
  resendNeedsPassword: '(you will enter your password again)',
  confirm: 'Confirm',
  turnOffQuestion: 'Turn off two-factor authentication?',
  disableConsequences: 'Your recovery codes stop working, and your other sessions are signed out. You can turn it on again at any time.',

  // Recovery codes
  recoveryTitle: 'Recovery codes',
  replaceCodes: 'New codes replace all your current recovery codes: the old ones stop working.',
  confirmWithApp: 'You will confirm with a code from your authenticator app.',
  confirmWithSent: (where: string) => `You will confirm with a code we send: ${where}.`,
  replaceCodesShort: 'New codes replace all your current recovery codes.',
  generateNewCodes: 'Generate new codes',
  newCodesHeading: 'Your new recovery codes',
  newCodesStatus: 'Your previous recovery codes no longer work. We also sent you an email about this change.',

  // Step-up and the invitation
  /** Without a rule description: the operation is only known to be sensitive. */
  stepUpText: 'This is a sensitive operation, so we check that it is really you.',
  /** After the rule's own description of the operation. */
  stepUpCheck: 'We check that it is really you.',
  stepUpNoEmail: (support: string) =>
    `This operation needs a code sent to your email address, but no email address is known for your account, so none can be sent. Contact ${support} to add one.`,
  stepUpWhere: {
    totp: (_destination: string | null, product: string) => `Enter the 6-digit code your authenticator app shows for ${product}.`,
    sms: (destination: string | null) => `We send a 6-digit code by text message to ${destination ?? 'your phone'}.`,
    email: (destination: string | null) => `We send a 6-digit code to ${destination ?? 'your email address'}.`,
  },
  verifyAndContinue: 'Verify and continue',
  sendTheCode: 'Send the code',
  stepUpCodeSent: 'A code is on its way. It expires in a few minutes.',
  stepUpAppNotice: 'Enter the code your authenticator app shows.',
  nothingToVerify: 'There is nothing to verify right now. Go back and try the operation again.',
  nudgeTitle: 'Protect your account',
  nudgeHeading: 'Protect your account with two-factor authentication',
  nudgeText:
    'You just confirmed a sensitive operation with a code. With two-factor authentication on, signing in always needs a code as well, so a stolen password alone is not enough — and most exports then go through without extra checks.',
  enableNow: 'Enable now',
  notNow: 'Not now',

  // Help: codes that do not arrive
  helpIntro: 'Most missing codes have one of these causes.',
  helpSms: 'Text message (SMS)',
  helpSmsDelay: pair('Delays and carrier filtering.', 'Texts are sometimes held up for a few minutes, and some carriers filter messages from automated senders. Wait a little, then ask for a new code.'),
  helpSmsNumber: (support: string) => pair('Your phone number changed.', `Codes go to the number on your account, which you cannot change yourself. Contact support: ${support}.`),
  helpSmsRoaming: pair('Roaming or abroad.', 'Texts may not arrive while roaming or in another country. Turn on roaming, connect to your home network, or use a recovery code.'),
  helpSmsBlocked: pair('Blocked short codes.', 'Your phone, plan or a blocking app may block messages from short codes or unknown senders. Check your blocked list and spam folder in your messages app, or ask your carrier to allow them.'),
  helpSmsSignal: pair('No signal or a full inbox.', 'Make sure the phone has signal and room for new messages.'),
  helpEmail: 'Email',
  helpEmailSpam: pair('Spam or junk folder.', 'Look in your spam, junk, promotions or updates folder, and mark the message as not spam.'),
  helpEmailCorporate: (product: string) =>
    pair('Corporate mail filters.', `A company mail server can hold or quarantine automated messages for a while. Ask your IT team to allow mail from ${product}.`),
  helpEmailMailbox: (username: boolean) =>
    pair('The right mailbox.', username ? 'Codes go to the email address on file for your account.' : 'Codes go to the email address you sign in with.'),
  helpResend: 'Asking for a new code',
  helpResendTimer: pair('Wait for the resend timer.', 'A new code can be sent only after a short wait; asking again sooner does not send another. When a new code is sent, the previous one stops working: use the newest one.'),
  helpResendExpire: pair('Codes expire.', 'A code works for a few minutes only. If it has expired, ask for a new one.'),
  helpApp: 'Authenticator app',
  helpAppClock: pair('The phone’s clock is out of sync.', 'Codes depend on the exact time. Turn on automatic date and time (network time) in your phone’s settings; some apps also have a “time correction” option.'),
  helpAppAccount: (product: string, username: boolean) =>
    pair('The wrong account in the app.', `Use the code listed under ${product} and your ${username ? 'username' : 'email address'}, not another account’s.`),
  helpAppPhone: pair('A new phone.', 'If you moved to a new phone without moving your authenticator accounts, use a recovery code.'),
  helpStill: 'Still no code?',
  helpStillText: (support: string) =>
    `Enter one of your recovery codes in the code field instead. Each works once. If you have none left, or you lost your device, contact support: ${support}.`,
  helpBackToCode: 'Back to the code page',

  // Error pages
  errorTitle: {
    400: 'Bad request',
    401: 'Sign-in required',
    403: 'Access denied',
    404: 'Page not found',
    405: 'Method not allowed',
    408: 'Request timed out',
    409: 'Please start again',
    410: 'Expired',
    413: 'Request too large',
    415: 'Unsupported content type',
    429: 'Too many attempts',
    500: 'Something went wrong',
    502: 'Service not reachable',
    503: 'Temporarily unavailable',
    504: 'Service took too long to answer',
  },
  errorTitleDefault: 'Error',
  errorStatus: (status: number) => `Error ${status}`,
  errorReference: (id: string) => `reference ${id}`,
  errorGeneric: 'The request could not be completed.',
  errorMessage: {
    bad_request: 'The request could not be understood. Please go back and try again.',
    '2fa_required': 'Your organisation requires two-step verification here. Set it up on Login & Security, then try again.',
    unknown_host: 'This site is not served at this address. Check the address you typed or followed.',
    cross_site_request: 'This request came from another site and was refused.',
    unsupported_media_type: 'This kind of request is not supported here.',
    payload_too_large: 'The request is too large.',
    invalid_csrf_token: 'This form has expired. Please try again.',
    login_required: 'Sign in to continue.',
    forbidden: 'You do not have access to this page.',
    not_found: 'There is no such page.',
    method_not_allowed: 'This kind of request is not supported here.',
    too_many_attempts: 'Too many failed attempts. Wait a while, then try again.',
    step_up_required: 'This operation needs a fresh verification.',
    internal_error: 'Something went wrong on our side. Please try again.',
    store_unavailable: 'Sign-in and verification are temporarily unavailable. Nothing was changed; please try again in a minute.',
    login_unavailable: 'Signing in is not possible right now. Please try again in a moment.',
    not_applicable: 'Your authenticator app shows the code; nothing is sent.',
    unsupported_upgrade: 'This connection cannot be upgraded here.',
    shutting_down: 'The service is restarting. Please try again in a moment.',
    unknown_language: 'That language is not available. Choose English or 简体中文.',
    upstream_error: 'The app gave an unexpected answer, so this could not be done. It is not about your password. Please try again later.',
    upstream_logout_failed: 'You are signed out here, but the app did not confirm that its own session ended.',
    untrusted_ingress: 'This address answers only the configured ingress (forward_auth.trusted).',
    bad_forward_auth_request: 'The ingress did not describe the original request (method and address).',
    no_email_on_file: 'No email address is known for your account, so no code was sent. Contact your administrator to add one.',
    directory_unavailable: 'Your email address and phone number cannot be looked up right now. Please try again in a moment.',
    ambiguous_identifier: 'The account was given twice with different values. Send it once.',
    request_timeout: 'The request arrived too slowly and was refused. Please try again.',
    too_many_connections: 'Too many connections from your network address. Close some tabs or wait a moment, then try again.',
    too_many_requests: 'Too many requests from your network address at once. Please wait a moment, then try again.',
    upstream_busy: 'The service is busy right now. Please try again in a moment.',
  },
  upstreamTimeout: (product: string) => `${product} did not answer in time. Please try again in a moment.`,
  upstreamDown: (product: string) => `${product} cannot be reached right now. Please try again in a moment.`,

  // Flow refusals shown on pages (the JSON API keeps the flow's English message)
  flow: {
    step_out_of_order: 'This step is not the next one. Please start again from the beginning.',
    already_enabled: 'Two-factor authentication is already on. Turn it off first to change the method.',
    '2fa_required_by_policy': 'Your organisation requires two-step verification, so it cannot be turned off. You can change the method instead.',
    same_channel: 'You confirmed it’s you with a code sent to this same address or phone, so it cannot also be your second step. Choose another method, or confirm it’s you another way first.',
    not_enabled: 'Two-factor authentication is not on.',
    password_required: 'Enter your password to continue.',
    invalid_credentials: 'The password is not correct.',
    upstream_unavailable: 'Your password cannot be checked right now. Please try again in a moment.',
    upstream_error: 'Your password cannot be checked right now because the app answered unexpectedly. Please try again later.',
    invalid_code: 'That code is not correct.',
    code_expired: 'That code has expired. Ask for a new one.',
    invalid_code_format: 'Enter the code as digits only.',
    too_many_attempts: 'Too many wrong attempts. Try again later.',
    too_many_codes: 'A code was sent recently. Please wait before asking for another.',
    sms_country_not_allowed: 'Text messages cannot be sent to this country. Choose another method.',
    delivery_failed: 'We could not send the code just now. Please try again in a moment.',
    invalid_channel: 'Choose where to send the code: email, or text message if a phone number is on your account.',
    invalid_method: 'Choose one of the methods listed.',
    method_not_offered: 'That method is not offered.',
    invalid_phone: 'Enter the phone number in international format, e.g. +1 555 555 0189.',
    phone_mismatch: 'Codes go to the phone number on your account. Contact support to change it.',
    phone_required: 'Enter the phone number that should receive codes.',
    no_step_up: 'There is nothing to verify right now. Go back and try the operation again.',
    login_required: 'Your session has ended. Sign in again.',
    no_contact_on_file: 'No email address or phone number is known for your account, so a code cannot be sent to check that it is you. Contact your administrator to add one.',
    account_mismatch: 'Your session with the app belongs to another account. Sign out and sign in again.',
    account_changed: 'Your account’s security settings changed while you were doing this (in another window, or by support), so this step has ended. Please start again.',
  },
  flowUnknown: 'Something went wrong. Please start again.',
  attemptsLeft: (n: number) => `${n} attempt${n === 1 ? '' : 's'} left.`,
  tryAgainIn: (seconds: number) =>
    seconds < 90 ? `(You can try again in about ${seconds} second${seconds === 1 ? '' : 's'}.)` : `(You can try again in about ${Math.ceil(seconds / 60)} minutes.)`,

  // The truth about sending (issue 13): what a code page says when a send was refused
  noCodeSent: 'No code was sent.',
  sendRefused: {
    budget: (where: string) => `Too many codes were sent to ${where} recently, so no new code was sent.`,
    delivery: 'The code could not be delivered just now.',
    country: 'Text messages cannot be sent to this phone number.',
  },
  sendBudgetRefused: 'Too many codes were sent recently, so no new code was sent.',
  earlierCodeWorks: 'The code we sent before still works: enter it below.',
  askAgainIn: (seconds: number) =>
    seconds < 90
      ? `You can ask for a new code in ${seconds} second${seconds === 1 ? '' : 's'}.`
      : `You can ask for a new code in ${Math.ceil(seconds / 60)} minutes.`,
  askAgainNow: 'You can ask for a new code now.',
  refusedWaysRecovery: (support: string) => `Can’t wait? Enter one of your recovery codes below instead, or contact support: ${support}.`,
  refusedWaysNone: (support: string) => `Can’t wait? Contact support: ${support}.`,
  codeHelp: 'Help with codes',
  riskNoticeNoSend: 'This sign-in looks different from your usual ones (a new device or network), so it needs a code sent to your email to make sure it is you.',
  noLiveCode: 'No code is waiting to be entered (it was used, replaced or has expired). Ask for a new one.',
  recoveryCodeLabel: 'Recovery code',
  stepUpRecovery: 'No access to your codes? Use one of your recovery codes instead:',
  submitRecoveryCode: 'Use the recovery code',
  // After a step-up: the result, then (for accounts without 2FA) the invitation
  stepUpDoneTitle: 'Verified',
  stepUpDoneHeading: 'Verified: it’s you',
  stepUpDoneText: 'It continues now: a download starts in a moment and this page stays (look in your browser’s downloads); a page opens by itself.',
  stepUpDoneFresh: (minutes: number) => `You will not be asked again for this kind of operation for ${minutes} minute${minutes === 1 ? '' : 's'}.`,
  stepUpDoneAgain: 'Nothing happened? Continue',
  stepUpRetry: 'Verified. Send what you were doing again (for example, press the export button once more): it now goes through.',
  backToWhereYouWere: 'Back to where you were',
  enableDoneBack: 'I saved my codes — back to where I was',

  // Required two-step verification (policy require_2fa, issue 17)
  requiredTitle: 'Two-step verification required',
  requiredHeading: 'Your organisation requires two-step verification',
  requiredText: (product: string) =>
    `To keep ${product} safe, your organisation asks everyone to sign in with a password and a code from a second device. Setting it up takes about two minutes.`,
  requiredGraceLeft: (skips: number | null, days: number | null) => {
    const parts: string[] = [];
    if (skips !== null) parts.push(`${skips} more time${skips === 1 ? '' : 's'}`);
    if (days !== null) parts.push(`for ${days} more day${days === 1 ? '' : 's'}`);
    return parts.length > 0 ? `You can choose “Not now” ${parts.join(', ')}; after that, setting it up is needed to continue.` : 'You can choose “Not now” for now.';
  },
  requiredGraceOver: 'The time to set it up has run out: set up two-step verification to continue.',
  requiredSetUpNow: 'Set up now',
  requiredHelp: (support: string) => `Questions, or no phone to use? Contact ${support}.`,
  requiredAlreadyOnHeading: 'Two-step verification is on',
  requiredNotNeededHeading: 'Nothing to set up',
  requiredNoSkipsLeft: '“Not now” can no longer be chosen: the time to set it up has run out.',
  changeMethodTitle: 'Change the verification method',
  changeMethodText: 'First confirm it’s you with your password and a code of your current method; then choose the new method. Your current method keeps working until the new one is confirmed.',
  requiredCannotTurnOff: 'Your organisation requires two-step verification, so it cannot be turned off. You can change the method, or ask support to reset it if you lost your device.',
};

export type Catalogue = typeof en;
